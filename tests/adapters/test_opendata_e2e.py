"""The importer against a real broker with the shipped municipal-style samples (Shift_JIS CSV, GeoJSON, CKAN)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.opendata.__main__ import main
from tests.adapters.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "adapters" / "opendata" / "samples"
DATA = Path(__file__).parent / "data"
AED_CSV = SAMPLES / "aed_ishikawa_sjis.csv"
AED_MAP = SAMPLES / "aed_mapping.json"


async def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = await main([*argv, "--no-progress"])
    return code, capsys.readouterr().out.splitlines()


async def entities(
    http: aiohttp.ClientSession, broker: str, type_: str, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    r = await http.get(
        f"{broker}/v2/entities",
        params={"type": type_, "limit": "1000", "attrs": "*,dateModified"},
        headers=headers or {},
    )
    assert r.status == 200
    return await r.json()


async def test_shift_jis_csv_is_imported_with_typed_attributes_and_points(
    broker_url: str, http: aiohttp.ClientSession, capsys
):
    assert AED_CSV.read_bytes()[:2] == b"No" and "名称".encode("cp932") in AED_CSV.read_bytes()
    code, out = await run(capsys, str(AED_CSV), "--mapping", str(AED_MAP), "--broker", broker_url)
    assert code == 0
    assert out == ["created: 8", "updated: 0", "unchanged: 0", "rejected: 0"]
    r = await http.get(f"{broker_url}/v2/entities/AED-1", params={"options": "keyValues"})
    assert await r.json() == {
        "id": "AED-1",
        "type": "AED",
        "name": "羽咋市役所",
        "address": "石川県羽咋市旭町ア200",
        "installationPlace": "1階 市民課前",
        "availableHours": "8:30-17:15",
        "telephone": "0767-22-1111",
        "pediatricPads": True,
        "dateUpdated": "2024-03-31T15:00:00.000Z",
        "location": {"type": "Point", "coordinates": [136.779, 36.893]},
    }
    r = await http.get(f"{broker_url}/v2/entities/AED-1/attrs/dateUpdated")
    assert (await r.json())["type"] == "DateTime"
    r = await http.get(
        f"{broker_url}/v2/entities",
        params={
            "type": "AED",
            "georel": "near;maxDistance:2000",
            "geometry": "point",
            "coords": "36.894,136.780",
            "options": "keyValues",
            "attrs": "name",
        },
    )
    assert sorted(e["name"] for e in await r.json()) == ["羽咋市役所", "羽咋市立図書館"]


async def test_a_second_run_finds_everything_unchanged_and_writes_nothing(
    broker_url: str, http: aiohttp.ClientSession, capsys
):
    await run(capsys, str(AED_CSV), "--mapping", str(AED_MAP), "--broker", broker_url)
    before = await entities(http, broker_url, "AED")
    code, out = await run(capsys, str(AED_CSV), "--mapping", str(AED_MAP), "--broker", broker_url)
    assert code == 0
    assert out == ["created: 0", "updated: 0", "unchanged: 8", "rejected: 0"]
    assert await entities(http, broker_url, "AED") == before


async def test_changed_rows_are_updated_and_dry_run_prints_without_writing(
    broker_url: str, http: aiohttp.ClientSession, capsys, tmp_path: Path
):
    await run(capsys, str(AED_CSV), "--mapping", str(AED_MAP), "--broker", broker_url)
    text = (
        AED_CSV.read_bytes()
        .decode("cp932")
        .replace("羽咋市立図書館", "羽咋市立中央図書館")
        .replace("5:30-23:30", "24時間")
    )
    changed = tmp_path / "aed.csv"
    changed.write_bytes(text.encode("cp932"))
    code, out = await run(capsys, str(changed), "--mapping", str(AED_MAP), "--broker", broker_url, "--dry-run")
    assert code == 0
    assert out == [
        'update AED-2 (row 3): name: "羽咋市立図書館" -> "羽咋市立中央図書館"',
        'update AED-4 (row 5): availableHours: "5:30-23:30" -> "24時間"',
        "would be created: 0",
        "would be updated: 2",
        "unchanged: 6",
        "rejected: 0",
    ]
    r = await http.get(f"{broker_url}/v2/entities/AED-2/attrs/name")
    assert (await r.json())["value"] == "羽咋市立図書館"
    code, out = await run(capsys, str(changed), "--mapping", str(AED_MAP), "--broker", broker_url)
    assert out == ["created: 0", "updated: 2", "unchanged: 6", "rejected: 0"]
    r = await http.get(f"{broker_url}/v2/entities/AED-2/attrs/name")
    assert (await r.json())["value"] == "羽咋市立中央図書館"


async def test_bad_rows_are_rejected_with_row_numbers_and_the_rest_is_imported(
    broker_url: str, http: aiohttp.ClientSession, capsys
):
    code, out = await run(
        capsys, str(DATA / "aed_bad_rows_sjis.csv"), "--mapping", str(AED_MAP), "--broker", broker_url
    )
    assert code == 1
    assert out == [
        "created: 2",
        "updated: 0",
        "unchanged: 0",
        "rejected: 5",
        "  row 3: latitude 95.0 is outside [-90, 90]",
        "  row 4: coordinates '36.5', '東経136' are not numbers",
        "  row 5: id template 'AED-{No}' needs column 'No', which is missing or empty",
        "  row 6: holds bytes that are not valid cp932 (the file's encoding)",
        "  row 8: id AED-101 is already used by row 2",
    ]
    assert sorted(e["id"] for e in await entities(http, broker_url, "AED")) == ["AED-101", "AED-106"]


async def test_geojson_goes_to_the_tenant_and_service_path_with_geometry_as_location(
    broker_url: str, http: aiohttp.ClientSession, capsys
):
    code, out = await run(
        capsys,
        str(SAMPLES / "shelters_kaga.geojson"),
        "--mapping",
        str(SAMPLES / "shelters_mapping.json"),
        "--broker",
        broker_url,
        "--service",
        "kaga",
        "--service-path",
        "/bousai",
    )
    assert code == 0 and out[0] == "created: 4"
    headers = {"Fiware-Service": "kaga", "Fiware-ServicePath": "/bousai"}
    found = {e["id"]: e for e in await entities(http, broker_url, "EvacuationShelter", headers)}
    assert sorted(found) == ["Shelter-KG-001", "Shelter-KG-002", "Shelter-KG-003", "Shelter-KG-004"]
    assert found["Shelter-KG-004"]["location"]["type"] == "geo:json"
    assert found["Shelter-KG-004"]["location"]["value"]["type"] == "Polygon"
    assert found["Shelter-KG-002"]["capacity"]["value"] == 1200 and found["Shelter-KG-002"]["tsunami"]["value"] is True
    assert found["Shelter-KG-002"]["flood"]["type"] == "Boolean"
    assert await entities(http, broker_url, "EvacuationShelter") == []


async def test_an_entity_the_broker_refuses_is_reported_and_its_batch_neighbours_are_written(
    broker_url: str, http: aiohttp.ClientSession, capsys, tmp_path: Path
):
    features = [
        {"type": "Feature", "properties": {"id": f"p{i}"}, "geometry": {"type": "Point", "coordinates": [136.0, 36.0]}}
        for i in range(3)
    ]
    features[1]["properties"]["note"] = {"remark": "a(b)"}  # string leaves may not hold ( ): the broker refuses
    source = tmp_path / "points.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"type": "Spot", "id": "{id}", "attrs": {"note": "note"}}))
    code, out = await run(capsys, str(source), "--mapping", str(mapping), "--broker", broker_url)
    assert code == 1
    assert out[:4] == ["created: 2", "updated: 0", "unchanged: 0", "rejected: 1"]
    assert out[4].startswith("  feature 2: the broker refused entity p1: ")
    assert sorted(e["id"] for e in await entities(http, broker_url, "Spot")) == ["p0", "p2"]


@pytest.fixture
async def ckan_portal(tmp_path: Path):
    """A CKAN-like portal: package_show / resource_show and the files they point to."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    resources = [
        {"id": "r-pdf", "name": "利用規約", "format": "PDF", "url": f"{base}/files/terms.pdf"},
        {"id": "r-csv", "name": "AED一覧", "format": "CSV", "url": f"{base}/files/aed.csv"},
        {"id": "r-geo", "name": "避難所", "format": "GeoJSON", "url": f"{base}/files/shelters"},
    ]

    async def package_show(request: web.Request) -> web.Response:
        if request.query.get("id") != "ishikawa-aed":
            return web.json_response(
                {"success": False, "error": {"message": "Not found", "__type": "Not Found Error"}}, status=404
            )
        return web.json_response({"success": True, "result": {"name": "ishikawa-aed", "resources": resources}})

    async def resource_show(request: web.Request) -> web.Response:
        for r in resources:
            if r["id"] == request.query.get("id"):
                return web.json_response({"success": True, "result": r})
        return web.json_response({"success": False, "error": {"message": "Not found"}}, status=404)

    async def files(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name == "aed.csv":
            return web.Response(body=AED_CSV.read_bytes(), content_type="text/csv")
        if name == "shelters":
            return web.Response(
                body=(SAMPLES / "shelters_kaga.geojson").read_bytes(), content_type="application/geo+json"
            )
        return web.Response(status=404)

    app = web.Application()
    app.router.add_get("/api/3/action/package_show", package_show)
    app.router.add_get("/api/3/action/resource_show", resource_show)
    app.router.add_get("/files/{name}", files)
    server = TestServer(app, host="127.0.0.1", port=port)
    await server.start_server()
    yield base
    await server.close()


async def test_ckan_dataset_url_imports_its_first_csv_or_geojson_resource(broker_url: str, ckan_portal: str, capsys):
    code, out = await run(
        capsys, f"{ckan_portal}/dataset/ishikawa-aed", "--mapping", str(AED_MAP), "--broker", broker_url
    )
    assert code == 0 and out[0] == "created: 8"


async def test_ckan_resource_url_imports_that_resource(broker_url: str, ckan_portal: str, capsys):
    code, out = await run(
        capsys,
        f"{ckan_portal}/dataset/ishikawa-aed/resource/r-geo",
        "--mapping",
        str(SAMPLES / "shelters_mapping.json"),
        "--broker",
        broker_url,
    )
    assert code == 0 and out[0] == "created: 4"


async def test_unknown_ckan_dataset_and_unreachable_broker_stop_with_status_2(
    broker_url: str, ckan_portal: str, capsys
):
    code = await main([f"{ckan_portal}/dataset/nothing", "--mapping", str(AED_MAP), "--broker", broker_url])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert "source: CKAN package_show 'nothing' failed: Not found" in captured.err
    code, _ = await run(capsys, str(AED_CSV), "--mapping", str(AED_MAP), "--broker", f"http://127.0.0.1:{free_port()}")
    assert code == 2


def test_the_module_runs_as_a_command(tmp_path: Path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "adapters.opendata",
            str(AED_CSV),
            "--mapping",
            str(AED_MAP),
            "--broker",
            "http://127.0.0.1:9",
            "--dry-run",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "aed_ishikawa_sjis.csv: 8 records (csv, cp932)" in result.stderr
    assert "broker http://127.0.0.1:9:" in result.stderr


async def test_ids_with_japanese_are_sanitised_and_found_again_on_the_next_run(
    broker_url: str, http: aiohttp.ClientSession, capsys, tmp_path: Path
):
    source = tmp_path / "spots.csv"
    source.write_bytes("名称,区分\r\n兼六園,庭園\r\n金沢城公園,公園\r\n".encode("cp932"))
    mapping = tmp_path / "m.json"
    mapping.write_text(
        json.dumps({"type": "TouristSpot", "id": "Spot-{名称}", "attrs": {"名称": "name", "区分": "category"}})
    )
    code, out = await run(capsys, str(source), "--mapping", str(mapping), "--broker", broker_url)
    assert code == 0 and out[0] == "created: 2"
    ids = sorted(e["id"] for e in await entities(http, broker_url, "TouristSpot"))
    assert all(i.startswith("Spot-") and i.isascii() and " " not in i for i in ids) and len(set(ids)) == 2
    code, out = await run(capsys, str(source), "--mapping", str(mapping), "--broker", broker_url)
    assert out == ["created: 0", "updated: 0", "unchanged: 2", "rejected: 0"]
