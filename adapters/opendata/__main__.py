"""`python -m adapters.opendata SOURCE --mapping MAPPING.json --broker URL [--service S] [--service-path /P] [--dry-run]`.

Exit status: 0 when every record was imported or unchanged, 1 when some were rejected, 2 when the run
could not happen (unreadable source or mapping, broker unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence

import aiohttp
from tqdm import tqdm

from adapters.ngsi_client import BrokerError, Destination
from adapters.opendata.importer import run_import
from adapters.opendata.mapping import parse_mapping
from adapters.opendata.report import dry_run_lines, summary_lines
from adapters.opendata.sources import SourceError, load

PROGRESS_FROM = 500  # records; smaller files finish before a bar means anything


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m adapters.opendata", description="Import CSV, GeoJSON or CKAN open data into an NGSI-v2 broker"
    )
    p.add_argument("source", metavar="SOURCE", help="file path, http(s) URL, or CKAN dataset/resource URL")
    p.add_argument("--mapping", required=True, help="mapping JSON file")
    p.add_argument("--broker", required=True, help="broker base URL, e.g. http://localhost:1026")
    p.add_argument("--service", default="", help="Fiware-Service (tenant)")
    p.add_argument("--service-path", default="/", help="Fiware-ServicePath (default /)")
    p.add_argument("--dry-run", action="store_true", help="print what would change and write nothing")
    p.add_argument("--encoding", help="CSV encoding (detected when not given)")
    p.add_argument("--delimiter", help="CSV delimiter (default , or tab for .tsv)")
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    return p.parse_args(argv)


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(message)s")
    try:
        with open(args.mapping, encoding="utf-8-sig") as f:
            mapping = parse_mapping(json.load(f))
    except (OSError, ValueError) as e:
        print(f"mapping {args.mapping}: {e}", file=sys.stderr)
        return 2
    dest = Destination(args.broker, args.service, args.service_path)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        try:
            dataset = await load(session, args.source, args.encoding, args.delimiter)
        except SourceError as e:
            print(f"source: {e}", file=sys.stderr)
            return 2
        print(
            f"{dataset.name}: {len(dataset.records)} records ({dataset.kind}"
            + (f", {dataset.encoding}" if dataset.kind == "csv" else "")
            + ")",
            file=sys.stderr,
        )
        bars: list[tqdm] = []

        def bar(total: int, desc: str) -> tqdm:
            bars.append(
                tqdm(
                    total=total,
                    unit="rec",
                    file=sys.stderr,
                    desc=desc,
                    disable=args.no_progress or total < PROGRESS_FROM or None,
                )
            )
            return bars[-1]

        reading = bar(len(dataset.records), "mapping")
        try:
            plan, summary = await run_import(
                session,
                dest,
                mapping,
                dataset,
                args.dry_run,
                reading.update,
                lambda n: (reading.close(), bar(n, "writing").update)[1],
            )
        except (BrokerError, aiohttp.ClientError, OSError, TimeoutError) as e:
            print(f"broker {args.broker}: {e}", file=sys.stderr)
            return 2
        finally:
            for b in bars:
                b.close()
    if args.dry_run:
        for line in dry_run_lines(plan):
            print(line)
    for line in summary_lines(summary, args.dry_run):
        print(line)
    return 1 if summary.rejected else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
