"""Chunked overlap-add inference over a stream; device and batch handling."""

from separate.engine.device import resolve_device
from separate.engine.overlap_add import (
    Conditioning,
    OverlapAdd,
    chunk_window,
    count_chunks,
    total_chunks,
)
from separate.engine.stream import StreamSeparator

__all__ = [
    "Conditioning",
    "OverlapAdd",
    "StreamSeparator",
    "chunk_window",
    "count_chunks",
    "resolve_device",
    "total_chunks",
]
