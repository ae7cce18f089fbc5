"""Clearance inside other people's data pipelines.

``clearance.integrations.ray.ClearanceFilter`` is a callable class for
``ray.data.Dataset.map_batches``; ``clearance.integrations.hf.filter_dataset``
filters a Hugging Face ``datasets.Dataset``. Both decide rows exactly as
``clearance scan`` does (``clearance.scan.batch.BatchDecider``). Ray and
``datasets`` are optional: each module imports its package only when used, and
a missing one is a ``UserError`` with the ``pip install`` hint.
"""
