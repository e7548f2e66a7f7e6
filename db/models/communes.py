"""The communes of the province: reference data every other table points at."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base


class Commune(Base):
    __tablename__ = "communes"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # "ward" (phường) or "commune" (xã); "special_zone" (đặc khu) exists nationally.
    kind: Mapped[str] = mapped_column(String(20))
    province_code: Mapped[str] = mapped_column(String(4), index=True)
    codename: Mapped[str] = mapped_column(String(200))
