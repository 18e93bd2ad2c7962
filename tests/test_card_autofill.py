"""Photos of the BHYT and CCCD cards fill the declaration for the citizen."""

from __future__ import annotations

from tests.story import BHYT_NEW, CCCD_2021, CCCD_2024, Citizen, photo_bytes, qr_photo


async def consent(citizen: Citizen) -> None:
    await citizen.agrees()


async def test_a_bhyt_card_photo_fills_the_code_and_name_and_skips_the_name_question(
    citizen: Citizen,
) -> None:
    await consent(citizen)
    await citizen.sends_photo(qr_photo(BHYT_NEW))
    assert "03 1234 5678" in citizen.text and "Nguyễn Văn An" in citizen.text
    assert "05/06/1990" in citizen.text and "Quận Ngô Quyền" in citizen.text
    await citizen.presses("bhxh_code:card:yes")
    answers = await citizen.answers()
    assert answers["bhxh_code"] == "0312345678"
    assert answers["full_name"] == "Nguyễn Văn An"
    assert await citizen.state() == "id_number"


async def test_a_citizen_who_rejects_the_reading_types_instead(citizen: Citizen) -> None:
    await consent(citizen)
    await citizen.sends_photo(qr_photo(BHYT_NEW))
    await citizen.presses("bhxh_code:card:no")
    assert await citizen.state() == "bhxh_code"
    assert "bhxh_code" not in await citizen.answers()


async def test_a_2021_cccd_fills_number_name_and_address_and_counts_as_the_front(
    citizen: Citizen,
) -> None:
    await consent(citizen)
    await citizen.says("0312345678")
    await citizen.says("Pham Minh Duc")
    await citizen.presses("name_confirm:keep")  # typed without diacritics, on purpose
    await citizen.sends_photo(qr_photo(CCCD_2021))
    assert "031 099 012 345" in citizen.text and "Phạm Minh Đức" in citizen.text
    await citizen.presses("id_number:card:yes")
    assert "Phạm Minh Đức" in citizen.text and "Pham Minh Duc" in citizen.text
    answers = await citizen.answers()
    assert answers["id_number"] == "031099012345"
    assert answers["commune_code"] == "11359" and answers["street"] == "Số 5 Lạch Tray"
    assert answers["id_front"] and "id_back" not in answers
    assert await citizen.state() == "phone"
    await citizen.says("0983847986")
    await citizen.presses("email_choice:no")
    await citizen.sends_photo(photo_bytes(seed=5))
    assert await citizen.state() == "id_back"  # the front was the QR photo


async def test_a_2024_card_photo_is_the_back_and_its_address_is_mapped(citizen: Citizen) -> None:
    await consent(citizen)
    await citizen.says("0312345678")
    await citizen.says("Lê Thị Mai")
    await citizen.sends_photo(qr_photo(CCCD_2024))
    await citizen.presses("id_number:card:yes")
    answers = await citizen.answers()
    assert answers["id_back"] and "id_front" not in answers
    assert answers["commune_code"] == "30673" and answers["province_code"] == "91"
    assert answers["address_as_typed"].startswith("Tổ 3, Ấp An Thái")


async def test_a_payment_qr_is_named_and_the_right_card_asked_for(citizen: Citizen) -> None:
    await consent(citizen)
    vietqr = (
        "00020101021238570010A000000727012700069704220113012345678901020208QRIBFTTA"
        "53037045802VN6304ABCD"
    )
    await citizen.sends_photo(qr_photo(vietqr))
    assert "VietQR" in citizen.text and "thẻ BHYT" in citizen.text
    await citizen.sends_photo(qr_photo("https://example.com/x"))
    assert "đường link" in citizen.text


async def test_a_cccd_whose_number_contradicts_its_birth_data_is_refused(
    citizen: Citizen,
) -> None:
    await consent(citizen)
    await citizen.says("0312345678")
    await citizen.says("Lê Thị Mai")
    lying = "089190012345||Lê Thị Mai|12031985|Nữ|Hòa Bình, Chợ Mới, An Giang|04102024"
    await citizen.sends_photo(qr_photo(lying))
    assert "không khớp" in citizen.text
    assert await citizen.state() == "id_number"


async def test_a_bhyt_card_at_the_id_step_is_explained(citizen: Citizen) -> None:
    await consent(citizen)
    await citizen.says("0312345678")
    await citizen.says("Nguyễn Văn An")
    await citizen.sends_photo(qr_photo(BHYT_NEW))
    assert "thẻ BHYT" in citizen.text and "CCCD" in citizen.text
