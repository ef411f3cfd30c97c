"""Several packages in one zip, streamed (``scorm_packages.packaging.stream_zip_of_zips``): a valid
zip, one chunk per package as it is consumed, memory bounded by one package (not the archive),
unique member names, and the size estimate the progress bar uses."""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile
from collections.abc import Iterator

from scorm_packages.packaging import (
    BuiltPackage,
    estimated_zip_of_zips_size,
    stream_zip_of_zips,
    unique_member_name,
    zip_of_zips_name,
)

MEMBER_BYTES = 200_000
MEMBERS = 50  # 10 MB in all


def members(count: int, size: int) -> Iterator[tuple[str, bytes]]:
    for i in range(count):
        yield f"course-{i}__volume__scorm12.zip", os.urandom(size)


def test_a_valid_zip_of_every_member_one_chunk_each() -> None:
    chunks = list(stream_zip_of_zips(members(3, 1000)))
    assert len(chunks) == 4  # one per member, then the directory
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.testzip() is None
    assert archive.namelist() == [f"course-{i}__volume__scorm12.zip" for i in range(3)]
    assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())


def test_members_are_built_only_when_the_stream_reaches_them() -> None:
    built: list[int] = []

    def lazy() -> Iterator[tuple[str, bytes]]:
        for i in range(3):
            built.append(i)
            yield f"m{i}.zip", b"x" * 10

    stream = stream_zip_of_zips(lazy())
    next(stream)
    assert built == [0]
    next(stream)
    assert built == [0, 1]


def test_memory_stays_bounded_by_one_member_not_the_archive() -> None:
    total = 0
    tracemalloc.start()
    try:
        for chunk in stream_zip_of_zips(members(MEMBERS, MEMBER_BYTES)):
            total += len(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > MEMBERS * MEMBER_BYTES
    assert peak < 5 * MEMBER_BYTES < total / 10  # a few copies of one member, never the 10 MB archive


def test_member_names_stay_unique() -> None:
    taken: set[str] = set()
    package = BuiltPackage("safety__volume__scorm12.zip", b"")
    assert unique_member_name(package, "C-1", taken) == "safety__volume__scorm12.zip"
    assert unique_member_name(package, "C-2", taken) == "c-2__safety__volume__scorm12.zip"
    assert unique_member_name(package, "C-2", taken) == "c-2__safety__volume__scorm12-2.zip"
    assert len(taken) == 3


def test_the_estimate_is_close_to_the_real_size() -> None:
    sample = BuiltPackage("course-0__volume__scorm12.zip", b"y" * 5000)
    real = sum(len(c) for c in stream_zip_of_zips((f"course-{i}__volume__scorm12.zip", b"y" * 5000)
                                                   for i in range(7)))
    assert abs(estimated_zip_of_zips_size(7, sample) - real) <= 7 * 16
    assert zip_of_zips_name(7, "scorm2004") == "courses-7__scorm2004.zip"
