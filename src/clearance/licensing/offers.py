"""Owners' licence terms as published offers, and as RSL 1.0 an owner can put on their site.

Why: a ``license`` term with its price *is* an offer; listing them lets a
licensee see what can be bought before scanning, and exporting them as RSL
lets the owner publish the very same terms where crawlers look. The export is
read back by the project's own RSL parser (``clearance.signals.rsl``), so
what is published is what the registry says (tests/licensing check the round
trip).

RSL has no token for ``output`` (using a work in a model's outputs); such
offers are listed but left out of the RSL document, with a warning. The
mapping: ``train-ai``/``train-genai`` -> ``ai-train``, ``ai-input`` ->
``ai-input``, ``search`` -> ``search``, ``tdm`` -> ``ai-all``; per item ->
payment ``training``, per run -> ``purchase``, per output -> ``use``, pool
share -> ``contribution``; a territory -> ``<permits type="geo">``; a term ->
``<legal type="term">``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import func, select

from clearance.core.errors import UserError
from clearance.core.models import IdentifierScheme, Price, PricePer
from clearance.core.usage import Permission, Usage, narrower_usages
from clearance.registry import schema as s
from clearance.registry.engine import database_errors
from clearance.registry.store import SqlStore, stored_price
from clearance.signals.rsl import RSL_NS, RslDocument

RSL_USAGE = {
    Usage.TRAIN_AI: "ai-train",
    Usage.TRAIN_GENAI: "ai-train",
    Usage.AI_INPUT: "ai-input",
    Usage.SEARCH: "search",
    Usage.TDM: "ai-all",
}
RSL_PAYMENT = {
    PricePer.ITEM: "training",
    PricePer.RUN: "purchase",
    PricePer.OUTPUT: "use",
    PricePer.POOL: "contribution",
}
_PER_OF_PAYMENT = {v: k for k, v in RSL_PAYMENT.items()}


@dataclass(frozen=True, slots=True)
class Offer:
    """One licensable usage of one work (or of all an owner's works) at one price model."""

    owner: str
    usage: Usage
    price: Price
    work_id: int | None = None
    """None: the owner's default terms, offered for every work without terms of its own."""
    title: str | None = None
    url: str | None = None
    contact: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "contact": self.contact,
            "work_id": self.work_id,
            "title": self.title,
            "url": self.url,
            "usage": self.usage.value,
            "price": self.price.to_dict(),
        }


def list_offers(
    store: SqlStore, *, owner: str | None = None, usage: Usage | None = None
) -> list[Offer]:
    """Every licensed usage with its price, by owner then work (owner defaults first).

    With ``usage``, offers on that usage or on a broader one that reaches it.
    """
    query = (
        select(s.terms, s.parties.c.name.label("owner"), s.parties.c.contact, s.works.c.title)
        .select_from(s.terms)
        .outerjoin(s.works, s.works.c.id == s.terms.c.work_id)
        .join(s.parties, s.parties.c.id == func.coalesce(s.works.c.owner_id, s.terms.c.party_id))
        .where(s.terms.c.permission == Permission.LICENSE.value)
    )
    with database_errors("read"), store.engine.connect() as conn:
        if owner is not None:
            query = query.where(s.parties.c.id == store._party_id(conn, owner))
        rows = conn.execute(query).all()
        ids = sorted({int(r.work_id) for r in rows if r.work_id is not None})
        urls: dict[int, str] = {}
        if ids:
            for r in conn.execute(
                select(s.identifiers.c.work_id, s.identifiers.c.value)
                .where(
                    s.identifiers.c.work_id.in_(ids),
                    s.identifiers.c.scheme.in_(
                        [IdentifierScheme.URL.value, IdentifierScheme.URL_PREFIX.value]
                    ),
                )
                .order_by(s.identifiers.c.id)
            ):
                urls.setdefault(int(r.work_id), r.value)
    out: list[Offer] = []
    for r in rows:
        offered = Usage(r.usage)
        if usage is not None and usage is not offered and usage not in narrower_usages(offered):
            continue
        if r.price_amount is None:
            continue
        work_id = int(r.work_id) if r.work_id is not None else None
        out.append(
            Offer(
                owner=r.owner,
                usage=offered,
                price=stored_price(r),
                work_id=work_id,
                title=r.title,
                url=urls.get(work_id) if work_id is not None else None,
                contact=r.contact,
            )
        )
    order = {u: i for i, u in enumerate(Usage)}
    out.sort(key=lambda o: (o.owner, o.work_id or 0, order[o.usage]))
    return out


def export_rsl(offers: Sequence[Offer]) -> tuple[str, list[str]]:
    """An RSL 1.0 document with one ``<content>`` per work (``url=""`` for an owner's
    defaults) and one ``<license>`` per offer; plus warnings for offers RSL cannot say."""
    warnings: list[str] = []
    by_content: dict[tuple[int | None, str], list[Offer]] = {}
    for offer in offers:
        if offer.usage not in RSL_USAGE:
            where = f"work {offer.work_id}" if offer.work_id else f"{offer.owner}'s defaults"
            warnings.append(f"{where}: RSL has no token for {offer.usage.value}; not exported")
            continue
        url = offer.url or ("" if offer.work_id is None else f"urn:clearance:work:{offer.work_id}")
        by_content.setdefault((offer.work_id, url), []).append(offer)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<rsl xmlns="{RSL_NS}">']
    for (_, url), group in sorted(by_content.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1])):
        lines.append(f"  <content url={quoteattr(url)}>")
        for offer in group:
            lines.append("    <license>")
            lines.append(f'      <permits type="usage">{RSL_USAGE[offer.usage]}</permits>')
            if offer.price.territory:
                geo = " ".join(offer.price.territory.split("+"))
                lines.append(f'      <permits type="geo">{escape(geo)}</permits>')
            payment = RSL_PAYMENT[offer.price.per]
            lines.append(f'      <payment type="{payment}">')
            lines.append(
                f"        <amount currency={quoteattr(offer.price.currency)}>"
                f"{offer.price.amount_text}</amount>"
            )
            lines.append("      </payment>")
            if offer.price.term:
                lines.append(f'      <legal type="term">{escape(offer.price.term)}</legal>')
            lines.append("    </license>")
        lines.append("  </content>")
    lines.append("</rsl>")
    return "\n".join(lines) + "\n", warnings


@dataclass(frozen=True, slots=True)
class RslOffer:
    """An offer as read back from RSL: the content URL, the usage token and the price."""

    url: str
    token: str
    price: Price


def offers_from_rsl(doc: RslDocument) -> list[RslOffer]:
    """Read the offers back from a parsed RSL document written by ``export_rsl``."""
    out: list[RslOffer] = []
    for content in doc.contents:
        for lic in content.licenses:
            tokens = sorted(lic.permitted("usage") or ())
            geo = [tok for t in lic.permits if t.type == "geo" for tok in t.tokens]
            term = next((text for kind, text in lic.legal if kind == "term"), None)
            for payment in lic.payments:
                per = _PER_OF_PAYMENT.get(payment.type)
                if per is None:
                    continue
                for amount in payment.amounts:
                    if amount.value is None or amount.currency is None:
                        continue
                    price = Price.parse(
                        Decimal(amount.value),
                        amount.currency,
                        per.value,
                        term=term,
                        territory="+".join(geo) if geo else None,
                    )
                    out.extend(RslOffer(content.url, token, price) for token in tokens)
    return out


def check_format(fmt: str) -> str:
    if fmt.strip().lower() != "rsl":
        raise UserError(f"unknown export format {fmt!r}", hint="valid: rsl")
    return "rsl"


__all__ = [
    "RSL_PAYMENT",
    "RSL_USAGE",
    "Offer",
    "RslOffer",
    "check_format",
    "export_rsl",
    "list_offers",
    "offers_from_rsl",
]
