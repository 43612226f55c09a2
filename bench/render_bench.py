"""Benchmark: render once (Jinja + premailer) vs personalise per recipient, on the shipped seed campaign.

Run: ``python bench/render_bench.py [--recipients 20000] [--renders 30]``

Prints the seed's HTML size (raw and as the encoded HTML part of the sample message), the size of the
``<style>`` block left in the head, and the cost per call of: the one-off campaign render (Jinja, premailer,
serialisation), the per-recipient substitution (``Rendition.personalise``), and the slow reference path a
naive sender would take per recipient (``render_full``: Jinja + premailer with the real values). The ratios
are the point; absolute times depend on the machine.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from lxml import etree

from solidarity_mailer.compose.sample_mail import build_sample
from solidarity_mailer.content.load import load_content
from solidarity_mailer.paths import starter_project
from solidarity_mailer.render.rendition import personal_values
from solidarity_mailer.render.templates import render_campaign, render_full

SEED = starter_project() / "campaigns" / "peru-solidarity-2023.toml"


def per_call(fn: Callable[[], object], calls: int, repeats: int = 3) -> float:
    """Best-of-``repeats`` mean seconds per call."""
    results = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        results.append((time.perf_counter() - start) / calls)
    return min(results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=20000, help="personalise calls per repeat")
    parser.add_argument("--renders", type=int, default=30, help="full renders per repeat")
    args = parser.parse_args()

    campaign, resolution = load_content(SEED)
    rendition = render_campaign(campaign, resolution)
    sample = build_sample(SEED)
    styles = etree.fromstring(rendition.html.encode(), etree.HTMLParser(encoding="utf-8")).xpath("//head/style")
    style_bytes = sum(len((s.text or "").encode()) for s in styles)
    demands = len(resolution.demands.items) if resolution.demands else 0
    print(f"seed: {len(resolution.signatories)} signatories, {demands} demands")
    print(f"HTML: {len(sample.html.encode())} bytes raw, {sample.html_part_size()} bytes as the encoded HTML part "
          f"(Gmail clips near 102 KB)")
    print(f"<style> left in the head: {style_bytes} bytes in {len(styles)} block(s) (Gmail limit 16 KB)")

    people = [personal_values(f"Person {i} <&>", f"p{i}@example.org", f"https://example.org/u/{i}?a=1&b=2")
              for i in range(args.recipients)]
    it = iter(people * 4)
    once = per_call(lambda: render_campaign(campaign, resolution), args.renders)
    each = per_call(lambda: rendition.personalise(next(it)), args.recipients)
    full = per_call(lambda: render_full(campaign, resolution, people[0]), args.renders)
    print(f"render once (Jinja + premailer + serialise): {once * 1e3:8.2f} ms per campaign")
    print(f"personalise per recipient:                   {each * 1e6:8.2f} µs per recipient")
    print(f"full render per recipient (reference path):  {full * 1e3:8.2f} ms per recipient")
    print(f"ratio full render / personalise: {full / each:,.0f}x; render once = {once / each:,.0f} recipients")
    for n in (1_000, 100_000):
        print(f"{n:>7,} recipients: render once + personalise {once + n * each:8.2f} s, "
              f"full render each {n * full:10.1f} s")


if __name__ == "__main__":
    main()
