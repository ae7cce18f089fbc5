"""The California training-data disclosure (AB 2013, Civil Code section 3111).

Section 3111(a) asks a developer of a generative AI system made available to
Californians for "a high-level summary of the datasets used in the
development" with twelve items. This module writes one block per scanned
dataset with the items numbered as in the statute: the number of data points,
the licences required, the copyright claims found and the filtering done are
what the scans measured; the sources, purposes, personal information,
collection period, first use and synthetic data are the developer's
statements from the info file, listed as missing when it does not give them.
"""

from __future__ import annotations

from collections.abc import Sequence

from clearance.reports.document import Document, Field, Section, Table, stated
from clearance.reports.facts import ScanFacts, combined
from clearance.reports.info import DatasetInfo, ModelInfo

STATUTE = (
    "California Civil Code section 3111, added by Assembly Bill 2013 (2024, chapter 817), "
    "https://leginfo.legislature.ca.gov/faces/billNavClient.xhtml?bill_id=202320240AB2013"
)


def _registered(f: ScanFacts) -> str:
    blocked = sum(sum(c.values()) for c in f.by_owner.values())
    return (
        f"{blocked:,} items matched works that {len(f.by_owner):,} rights holder(s) registered "
        "with terms reserving or licensing this use; they were left out unless licensed. "
        "The scan cannot show that the remaining items are in the public domain."
    )


def _licensed(f: ScanFacts) -> str:
    n = sum(e["items"] for e in f.licences.values())
    owners = sorted(o or "(web licence signals)" for o in f.licences)
    if not n:
        return "the scan found no item that needs a licence"
    return f"{n:,} items need a licence, from: {', '.join(owners)}"


def _dataset_section(n: int, f: ScanFacts, ds: DatasetInfo) -> Section:
    top = sorted(f.domains.items(), key=lambda kv: (-kv[1]["include"], kv[0]))[:10]
    name = ds.get("name", required=False) or f.name
    section = Section("", f"Dataset {n}: {name}")
    cleaning = ds.get("cleaning", required=False)
    filtered = (
        f"filtered with Clearance for the use {f.purpose!r} in mode {f.mode!r} to honour "
        f"rights holders' reservations: {f.outcomes['exclude']:,} items excluded, "
        f"{f.outcomes['needs-license']:,} needing a licence left out, "
        f"{f.outcomes['error']:,} that could not be checked left out"
    )
    owners = ds.get("owner")
    section.entries += [
        stated(
            owners,
            "(1) The sources or owners of the datasets",
            f"datasets.{f.name}.owner",
            note=f"scanned input: {f.input} ({f.input_kind})"
            + (f"; most used domains: {', '.join(d for d, _ in top)}" if top else ""),
        ),
        stated(
            ds.get("purpose"),
            "(2) How the dataset furthers the intended purpose of the system",
            f"datasets.{f.name}.purpose",
        ),
        Field(
            "(3) The number of data points",
            f"{f.included:,} items used ({f.items:,} scanned)",
            "scan",
        ),
        stated(
            ds.get("description"),
            "(4) The types of data points",
            f"datasets.{f.name}.description",
            note="media types from file extensions: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(f.media.items())),
        ),
        stated(
            ds.get("copyright"),
            "(5) Whether the dataset includes data protected by copyright, trademark or patent, "
            "or is entirely in the public domain",
            f"datasets.{f.name}.copyright",
            note=_registered(f),
        ),
        stated(
            ds.get("purchased_or_licensed"),
            "(6) Whether the dataset was purchased or licensed by the developer",
            f"datasets.{f.name}.purchased_or_licensed",
            note=_licensed(f),
        ),
        stated(
            ds.get("personal_information"),
            "(7) Whether the dataset includes personal information (Civil Code 1798.140(v))",
            f"datasets.{f.name}.personal_information",
        ),
        stated(
            ds.get("aggregate_consumer_information"),
            "(8) Whether the dataset includes aggregate consumer information "
            "(Civil Code 1798.140(b))",
            f"datasets.{f.name}.aggregate_consumer_information",
        ),
        Field(
            "(9) Cleaning, processing or other modification by the developer, and its purpose",
            filtered + (f"; also: {cleaning}" if cleaning else ""),
            "scan",
        ),
        stated(
            ds.get("collection_period"),
            "(10) The time period during which the data were collected (and whether collection "
            "is ongoing)",
            f"datasets.{f.name}.collection_period",
        ),
        stated(
            ds.get("first_used"),
            "(11) The dates the dataset was first used during development",
            f"datasets.{f.name}.first_used",
        ),
    ]
    return section


def build_ab2013(scans: Sequence[ScanFacts], info: ModelInfo) -> Document:
    total = combined(scans)
    header = Section("", "Developer and system")
    header.entries += [
        stated(info.get("provider.name"), "Developer", "provider.name"),
        stated(info.get("model.name"), "Generative AI system or service", "model.name"),
        stated(info.get("model.intended_purpose"), "Intended purpose", "model.intended_purpose"),
    ]
    summary = Section("(a)", "High-level summary of the datasets used in development")
    summary.entries += [
        Field(
            "Datasets",
            f"{len(scans)} scanned dataset(s); {total.included:,} of {total.items:,} items used",
            "scan",
        ),
        Table(
            ("dataset", "input", "items used", "items scanned", "run root", "signing key"),
            tuple(
                (
                    s["name"],
                    s["input"],
                    s["included"],
                    s["items"],
                    s["run_root"],
                    s["key_id"] or "unsigned",
                )
                for s in total.scans
            ),
            caption="Each scan's decisions are committed to by a signed Merkle root "
            "(clearance verify)",
        ),
    ]
    summary.sections += [
        _dataset_section(n, f, info.dataset(f.name)) for n, f in enumerate(scans, 1)
    ]
    synthetic = Section("(a)(12)", "Synthetic data generation")
    synthetic.entries.append(
        stated(
            info.get("synthetic_data"),
            "Whether the system used or continuously uses synthetic data generation in its "
            "development",
            "synthetic_data",
        )
    )
    return Document(
        format="clearance.ab2013-disclosure",
        title="Training data disclosure (California Civil Code 3111)"
        + (
            f": {info.get('model.name', required=False)}"
            if info.get("model.name", required=False)
            else ""
        ),
        intro=[
            "Documentation of the data used to train the system, as California Civil Code "
            "section 3111 (AB 2013) requires. Values marked [scan] were measured by Clearance "
            "scans of the datasets; values marked [info] are the developer's statements. It "
            "is not legal advice.",
        ],
        sections=[header, summary, synthetic],
        missing=list(info.missing),
        scans=total.scans,
        references=[STATUTE],
    )
