import pytest

from pipelines.catalogue.models import ItemField, Standard
from pipelines.quality.masking import mask
from pipelines.standards import division_name, is_adcode, is_phone, is_postcode, is_ric, is_uscc
from tests.conftest import make_ric, make_uscc


def test_check_digits_through_stdnum() -> None:
    good_uscc, good_ric = make_uscc(42), make_ric(42)
    assert is_uscc(good_uscc) and is_ric(good_ric)
    assert not is_uscc(good_uscc[:-1] + ("0" if good_uscc[-1] != "0" else "1"))
    assert not is_ric(good_ric[:-1] + ("0" if good_ric[-1] != "0" else "1"))


def test_citizen_id_region_must_have_existed_at_birth() -> None:
    # 450108 (良庆区) was created in 2004: a person born there in 1985 cannot exist.
    assert is_ric(make_ric(1, region="450108", birth="20100101"))
    assert not is_ric(make_ric(1, region="450108", birth="19850101"))


def test_a_number_stdnum_cannot_place_is_not_a_citizen_id() -> None:
    # python-stdnum raises KeyError for these division codes instead of rejecting the number
    assert not is_ric("652492709210264830")
    assert not is_ric("468448513004194579")


@pytest.mark.parametrize(("code", "valid"), [("450000", True), ("450100", True), ("450123", True),
                                              ("450121", False), ("999999", False), ("45012", False)])
def test_division_codes_in_use(code: str, valid: bool) -> None:
    assert is_adcode(code) is valid


def test_division_names() -> None:
    assert division_name("450123") == "隆安县"


def test_phone_and_postcode() -> None:
    assert is_phone("13807710000") and is_phone("0771-5551234")
    assert not is_phone("12345")
    assert is_postcode("530000") and not is_postcode("053000")


def test_masking_hides_personal_data() -> None:
    ric_field = ItemField(name="id", label="身份证号", standard=Standard.RIC, personal=True)
    phone_field = ItemField(name="phone", label="电话", standard=Standard.PHONE, personal=True)
    name_field = ItemField(name="holder", label="姓名", personal=True)
    assert mask("450103198506120072", ric_field) == "450103********0072"
    assert mask("13807710000", phone_field) == "138****0000"
    assert mask("张三丰", name_field) == "张**"
    assert mask("存续", ItemField(name="status", label="状态")) == "存续"
