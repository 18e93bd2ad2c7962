"""Choosing the receiving BHXH office, and the operator keeping the list up to date."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.cli import agencies as cli
from bot.flows.agencies import (
    Agency,
    AgencyCsvError,
    AgencyDirectory,
    dump_agency_csv,
    format_agency,
    import_agencies,
    load_directory,
    parse_agency_csv,
)
from bot.flows.places import Catalogue, catalogue

HEADER = "code,name,province_code,communes,address,phone,active,confirmed\n"


@pytest.fixture(scope="module")
def places() -> Catalogue:
    return catalogue()


@pytest.fixture(scope="module")
def seed() -> AgencyDirectory:
    return load_directory()


# --- the seed ---------------------------------------------------------------------------------


def test_every_province_has_its_provincial_office_in_the_seed(
    seed: AgencyDirectory, places: Catalogue
) -> None:
    for province in places.provinces():
        office = seed.by_code("0" + province.code)
        assert office is not None and office.active and office.province_code == province.code
        assert office.name == f"BHXH {province.kind} {province.short_name}"
        assert seed.for_province(province.code)[0] == office


def test_the_seed_keeps_the_offices_the_notices_name_as_they_were_given(
    seed: AgencyDirectory,
) -> None:
    ngo_quyen = seed.by_code("03102")
    assert ngo_quyen is not None
    assert (ngo_quyen.name, ngo_quyen.province_code, ngo_quyen.phone) == (
        "BHXH Quận Ngô Quyền",
        "31",
        "02253826582",
    )
    assert ngo_quyen.address.startswith("Lô 20B")
    assert "11359" in ngo_quyen.communes
    assert not ngo_quyen.confirmed
    old_an_giang = seed.by_code("089")
    assert old_an_giang is not None and old_an_giang.name == "BHXH Tỉnh An Giang"
    assert not old_an_giang.active  # superseded by 091; still resolvable for old receipts
    assert old_an_giang not in seed.for_province("91")
    assert all(not a.confirmed for a in seed.all())


def test_an_agency_reads_as_one_line_with_a_nicely_formatted_phone(seed: AgencyDirectory) -> None:
    line = format_agency(seed.by_code("03102"))  # type: ignore[arg-type]
    assert line.startswith("[03102] BHXH Quận Ngô Quyền — 0225 3826 582 — Lô 20B")
    assert format_agency(seed.by_code("004")) == "[004] BHXH tỉnh Cao Bằng"  # type: ignore[arg-type]


# --- suggestions and search -------------------------------------------------------------------


def test_someone_in_phuong_gia_vien_hai_phong_is_offered_the_ngo_quyen_office_first(
    seed: AgencyDirectory,
) -> None:
    suggested = seed.suggest("31", "11359")
    assert [a.code for a in suggested[:2]] == ["03102", "031"]


def test_without_a_serving_office_the_provincial_office_comes_first(
    seed: AgencyDirectory,
) -> None:
    assert seed.suggest("01", "00008")[0].code == "001"
    assert seed.suggest("31", "10543")[0].code == "031"  # Phường Việt Hòa: not Ngô Quyền's
    assert seed.suggest(None, "26929")[0].code == "07906"  # the commune tells the province


def test_the_bhyt_card_issuer_hints_at_the_office(seed: AgencyDirectory, places: Catalogue) -> None:
    assert seed.suggest(None, issuer_text="Quận Cầu Giấy, Thành phố Hà Nội")[0].code == "001"
    hinted = seed.suggest(None, issuer_text="Quận Ngô Quyền, Thành phố Hải Phòng")
    assert [a.code for a in hinted[:2]] == ["03102", "031"]
    # lives in Hà Nội, card issued in Hải Phòng: home province first, the issuer next
    both = seed.suggest("01", issuer_text="BHXH quận Ngô Quyền, TP Hải Phòng")
    assert [a.code for a in both[:2]] == ["001", "03102"]
    assert seed.suggest(None) == []


def test_offices_are_found_by_name_without_diacritics_or_by_code(seed: AgencyDirectory) -> None:
    assert [a.code for a in seed.search("ngo quyen")] == ["03102"]
    assert [a.code for a in seed.search("BHXH Ngô Quyền")] == ["03102"]
    assert seed.search("hai phong")[0].code == "031"
    assert [a.code for a in seed.search("0310")] == ["03102"]
    assert [a.code for a in seed.search("031")][:2] == ["031", "03102"]
    assert [a.code for a in seed.search("binh thanh")] == ["07906"]
    assert seed.search("089") == []  # inactive
    assert seed.search("zzz") == []


# --- operator CSV -----------------------------------------------------------------------------


def test_a_bad_csv_reports_every_bad_row_with_its_line_number(places: Catalogue) -> None:
    text = (
        "# operator list, 2026-11\n"
        + HEADER
        + "03102,BHXH Quận Ngô Quyền,31,11359,,0225 3826 582,yes,no\n"
        + "3103,BHXH Quận Lê Chân,31,,,,yes,no\n"  # 4: leading zero lost
        + "03104,BHXH Quận Hải An,99,,,,yes,no\n"  # 5: unknown province
        + "03105,BHXH Quận Kiến An,31,,,12345,yes,no\n"  # 6: bad phone
        + "03102,BHXH trùng mã,31,,,,yes,no\n"  # 7: duplicate
        + "03106,,31,,,,yes,no\n"  # 8: no name
        + "03107,BHXH X,31,,,,maybe,no\n"  # 9: bad bool
        + "03108,BHXH Y,31,11359;00008,,,yes,no\n"  # 10: commune of another province
        + "03109,BHXH Z,31,99999,,,yes,no\n"  # 11: unknown commune
        + "03110,BHXH W,31\n"  # 12: short row
    )
    with pytest.raises(AgencyCsvError) as caught:
        parse_agency_csv(text, places)
    lines = [line for line, _msg in caught.value.errors]
    assert lines == [4, 5, 6, 7, 8, 9, 10, 11, 12]
    messages = dict(caught.value.errors)
    assert "leading zero" in messages[4]
    assert "province" in messages[5]
    assert "phone" in messages[6]
    assert "duplicate" in messages[7] and "line 3" in messages[7]
    assert "name" in messages[8]
    assert "active" in messages[9]
    assert "00008" in messages[10]
    assert "99999" in messages[11]
    assert "line 4:" in str(caught.value)


def test_a_csv_with_a_wrong_header_is_refused_at_line_1(places: Catalogue) -> None:
    with pytest.raises(AgencyCsvError) as caught:
        parse_agency_csv("code,name,phone_number\n001,BHXH,024\n", places)
    assert caught.value.errors[0][0] == 1
    with pytest.raises(AgencyCsvError):
        parse_agency_csv("", places)


def test_a_good_csv_round_trips_with_a_bom_quotes_and_defaults(places: Catalogue) -> None:
    text = (
        "\ufeff"
        + HEADER
        + '03103,BHXH Quận Lê Chân,31,11383,"Số 1, đường X, Lê Chân",02253000000,,\n'
    )
    (agency,) = parse_agency_csv(text, places)
    assert agency == Agency(
        "03103", "BHXH Quận Lê Chân", "31", ("11383",), "Số 1, đường X, Lê Chân",
        "02253000000", True, False,
    )  # fmt: skip
    assert parse_agency_csv(dump_agency_csv([agency]), places) == [agency]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_an_import_is_merged_atomically_and_the_operator_row_wins(
    tmp_path: Path, places: Catalogue
) -> None:
    data = tmp_path / "data"
    first = write(
        tmp_path / "a.csv",
        HEADER + "03102,BHXH cơ sở Ngô Quyền,31,11359;11329,Lô 20B,02253826582,yes,yes\n",
    )
    assert import_agencies(first, data) == 1
    second = write(tmp_path / "b.csv", HEADER + "03103,BHXH cơ sở Lê Chân,31,11383,,,yes,no\n")
    assert import_agencies(second, data) == 1
    directory = load_directory(data)
    assert directory.by_code("03102").name == "BHXH cơ sở Ngô Quyền"  # type: ignore[union-attr]
    assert directory.by_code("03102").confirmed  # type: ignore[union-attr]
    assert directory.by_code("03103") is not None
    assert directory.by_code("031") is not None  # the seed is still underneath
    assert [p.name for p in data.iterdir()] == ["agencies.csv"]  # no temp file left behind


def test_a_bad_import_leaves_the_previous_file_untouched(tmp_path: Path) -> None:
    data = tmp_path / "data"
    good = write(tmp_path / "good.csv", HEADER + "03103,BHXH cơ sở Lê Chân,31,,,,yes,no\n")
    import_agencies(good, data)
    before = (data / "agencies.csv").read_bytes()
    stamp = os.stat(data / "agencies.csv").st_mtime_ns
    bad = write(
        tmp_path / "bad.csv",
        HEADER
        + "03104,BHXH cơ sở Hải An,31,,,,yes,no\n"
        + "03105,BHXH cơ sở Kiến An,77,,,,yes,no\n",
    )
    with pytest.raises(AgencyCsvError) as caught:
        import_agencies(bad, data)
    assert [line for line, _m in caught.value.errors] == [3]
    assert (data / "agencies.csv").read_bytes() == before
    assert os.stat(data / "agencies.csv").st_mtime_ns == stamp
    assert load_directory(data).by_code("03104") is None  # nothing half-imported
    assert [p.name for p in data.iterdir()] == ["agencies.csv"]


# --- the operator command ---------------------------------------------------------------------


def run_cli(argv: list[str]) -> int:
    import argparse

    root = argparse.ArgumentParser(prog="vssid-bot")
    cli.register(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(argv)
    code: int = args.func(args)
    return code


def test_the_operator_imports_and_lists_agencies_from_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VSSID_DATA_DIR", str(tmp_path / "data"))
    good = write(tmp_path / "good.csv", HEADER + "03103,BHXH cơ sở Lê Chân,31,11383,,,yes,no\n")
    assert run_cli(["agencies", "import", str(good)]) == 0
    assert "imported 1" in capsys.readouterr().out
    assert run_cli(["agencies", "list", "--province", "31"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[031] BHXH thành phố Hải Phòng")
    assert any(line.startswith("[03103] BHXH cơ sở Lê Chân") for line in out)
    assert all("[089]" not in line for line in out)


def test_a_bad_file_makes_the_command_print_each_bad_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VSSID_DATA_DIR", str(tmp_path / "data"))
    bad = write(tmp_path / "bad.csv", HEADER + "3103,X,31,,,,yes,no\n03104,Y,31,,,123,yes,no\n")
    assert run_cli(["agencies", "import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 2:" in err and "line 3:" in err and "nothing imported" in err
    assert not (tmp_path / "data" / "agencies.csv").exists()
    assert run_cli(["agencies", "import", str(tmp_path / "missing.csv")]) == 2
    assert run_cli(["agencies"]) == 2
