"""The province's units' seed: `db/units.csv`, 25 units of three kinds with the codes the plans'
tests use, loaded once, an office's edits kept through a re-seed, and the directory a plan's
unit names are resolved against built from what was seeded."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import astuple

import pytest
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from db.engine import make_async_engine, make_engine
from db.models import Unit as UnitRow
from db.units import load_units, read_units
from services.unit_schemas import UNIT_CODE_PATTERN
from services.units import unit_directory
from tests.plans.plan_appendix import UNITS
from vocabulary.unit_names import Unit, UnitKind


@pytest.fixture
def engine(scratch_database_url: str) -> Iterator[Engine]:
    """The module's own database, its units table emptied: each test seeds it itself."""
    engine = make_engine(scratch_database_url)
    with Session(engine) as session, session.begin():
        session.execute(delete(UnitRow))
    yield engine
    engine.dispose()


@pytest.fixture
async def sessions(
    scratch_database_url: str, engine: Engine
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async_engine = make_async_engine(scratch_database_url)
    yield async_sessionmaker(async_engine, expire_on_commit=False)
    await async_engine.dispose()


def stored(engine: Engine) -> dict[str, tuple[object, ...]]:
    """Every unit row as it stands, by code."""
    with Session(engine) as session:
        return {
            row.code: (
                row.kind,
                row.name,
                row.abbreviations,
                row.note,
                row.head_email,
                row.active,
                row.created_at,
                row.updated_at,
            )
            for row in session.scalars(select(UnitRow))
        }


def test_the_list_is_the_one_the_plans_are_read_with() -> None:
    seeds = read_units()
    assert len(seeds) == 25
    assert Counter(s.kind for s in seeds) == {"department": 13, "provincial_body": 6, "party": 6}
    # Code, kind, name and abbreviations exactly as the plans' tests list them, in that order.
    listed = [astuple(Unit(s.code, UnitKind(s.kind), s.name, s.abbreviations)) for s in seeds]
    assert listed == [astuple(u) for u in UNITS]
    assert all(re.fullmatch(UNIT_CODE_PATTERN, s.code) for s in seeds)
    by_code = {s.code: s for s in seeds}
    assert by_code["VPUBND"].abbreviations == ("Văn phòng UBND tỉnh", "VP UBND tỉnh", "VPUBND")
    assert by_code["TTT"].abbreviations == ()
    assert by_code["SKHCN"].note == "uniform; standing agency of the steering office"


def test_the_seed_gives_25_units_once(engine: Engine) -> None:
    assert load_units(engine) == 25
    first = stored(engine)
    assert len(first) == 25
    assert Counter(kind for kind, *_ in first.values()) == {
        "department": 13,
        "provincial_body": 6,
        "party": 6,
    }
    assert first["SGDDT"][:6] == (
        "department",
        "Sở Giáo dục và Đào tạo",
        "Sở GD&ĐT; SGDĐT",
        "uniform",
        None,
        True,
    )
    assert load_units(engine) == 0
    assert stored(engine) == first


def test_an_office_edit_survives_a_re_seed(engine: Engine) -> None:
    load_units(engine)
    with Session(engine) as session, session.begin():
        session.execute(
            update(UnitRow)
            .where(UnitRow.code == "SNV")
            .values(
                name="Sở Nội vụ tỉnh Đắk Lắk",
                abbreviations="SNV; Sở NV",
                head_email="giam-doc@snv.example.invalid",
                active=False,
            )
        )
        session.execute(delete(UnitRow).where(UnitRow.code == "TKT"))
    edited = stored(engine)
    # The unit taken out comes back; the edited one stays as the office left it.
    assert load_units(engine) == 1
    after = stored(engine)
    assert len(after) == 25
    assert after["SNV"] == edited["SNV"]
    assert after["SNV"][1:6] == (
        "Sở Nội vụ tỉnh Đắk Lắk",
        "SNV; Sở NV",
        "uniform",
        "giam-doc@snv.example.invalid",
        False,
    )
    assert after["TKT"][:2] == ("provincial_body", "Thống kê tỉnh")
    assert {code: row for code, row in after.items() if code != "TKT"} == edited


async def test_the_directory_resolves_the_seeded_units_and_leaves_out_inactive_ones(
    engine: Engine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    load_units(engine)
    async with sessions() as session:
        directory = await unit_directory(session)
    resolved = directory.resolve("Sở KH&CN, SNV và Sở Tài chính")
    assert resolved.units == ("SKHCN", "SNV", "STC")
    assert resolved.outside == ()
    every = directory.resolve("Các cơ quan, đơn vị của tỉnh; UBND các xã, phường")
    assert len(every.units) == 25 + 102
    with Session(engine) as office, office.begin():
        office.execute(update(UnitRow).where(UnitRow.code == "SNV").values(active=False))
    async with sessions() as session:
        directory = await unit_directory(session)
    resolved = directory.resolve("Sở KH&CN, SNV và Sở Tài chính")
    assert resolved.units == ("SKHCN", "STC")
    assert resolved.outside == ("SNV",)
