"""The store: dataset groups, datasets as Parquet segments, imports and the interaction cache.

See :mod:`engine.store.store` for the layout on disk, :mod:`engine.store.importing` for
import jobs and :mod:`engine.store.cache` for the cache training reads.
"""

from engine.store.cache import InteractionCache
from engine.store.dataset import Dataset
from engine.store.group import DatasetGroup
from engine.store.importing import ImportJob
from engine.store.store import Store

__all__ = ["Dataset", "DatasetGroup", "ImportJob", "InteractionCache", "Store"]
