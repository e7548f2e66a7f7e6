"""The communes and wards of Dak Lak, from the `vietnam-provinces` package."""

from __future__ import annotations

import re
from dataclasses import dataclass

from vietnam_provinces import ProvinceCode, VietNamDivisionType, Ward

DAK_LAK = 66
_KIND = {
    VietNamDivisionType.XA: "commune",
    VietNamDivisionType.PHUONG: "ward",
    VietNamDivisionType.DAC_KHU: "special_zone",
}


@dataclass(frozen=True)
class CommuneInfo:
    code: str
    name: str
    kind: str
    province_code: str
    codename: str


def normalise_name(name: str) -> str:
    """The package writes "Phường  Tân An" with two spaces after the prefix."""
    return re.sub(r"\s+", " ", name).strip()


def communes_of_province(province_code: int = DAK_LAK) -> list[CommuneInfo]:
    wards = Ward.iter_by_province(ProvinceCode(province_code))
    return sorted(
        (
            CommuneInfo(
                code=str(int(w.code)),
                name=normalise_name(w.name),
                kind=_KIND[w.division_type],
                province_code=str(int(w.province_code)),
                codename=w.codename,
            )
            for w in wards
        ),
        key=lambda c: c.code,
    )


def communes_of_country() -> list[CommuneInfo]:
    """All 3,321 communes and wards of the 34 provinces: the national case."""
    return sorted(
        (
            CommuneInfo(
                code=str(int(w.code)),
                name=normalise_name(w.name),
                kind=_KIND[w.division_type],
                province_code=str(int(w.province_code)),
                codename=w.codename,
            )
            for w in Ward.iter_all()
        ),
        key=lambda c: c.code,
    )
