"""Write-ahead log: append-only files of CRC-checked records, group-committed with fdatasync.

Record: ``[length u32][crc32 u32][lsn u64][commit ts u64][op u8][payload]``; ``length`` is the
payload length and the CRC covers everything after the CRC field. LSNs number records 1, 2, ...
and a file is named by the LSN of its first record (``wal/<lsn>.wal``).

Group commit: a committer that finds no fdatasync running starts one covering everything
applied so far; committers arriving meanwhile wait and are covered by the next one, so many
commits share one sync.

Preallocation: the open file is extended with zeros (synced) ahead of its records, and records
are written in place, as PostgreSQL preallocates its WAL segments. Appending would grow the
file at every commit, and a commit's fdatasync would then also have to make the new size
durable (a second, journal, write on ext4: ~35 us more per commit on our machines). A zero
tail fails its record's CRC, so recovery ends the log there as at any torn record (and cuts
it off); a file is truncated to its records when it is rotated or closed.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

HEADER = struct.Struct("<IIQQB")
CRC_PART = struct.Struct("<QQB")  # the part of the header the CRC covers
FILE_LIMIT = 64 << 20  # start a new file past this size, so trimming frees space in steps
PREALLOCATE = 4 << 20  # zeros written ahead of the records at a time
_ZEROS = bytes(1 << 20)

OP_COMMIT = 1
OP_SEQUENCE = 2


@dataclass
class WalRecord:
    lsn: int
    ts: int
    op: int
    payload: memoryview


def _file_name(lsn: int) -> str:
    return f"{lsn:020d}.wal"


def wal_files(wal_dir: str) -> list[tuple[int, str]]:
    """(first lsn, path) of the WAL files, oldest first."""
    out = []
    for name in os.listdir(wal_dir):
        if name.endswith(".wal"):
            out.append((int(name[:-4]), os.path.join(wal_dir, name)))
    return sorted(out)


def read_wal(wal_dir: str, after_lsn: int) -> Iterator[WalRecord]:
    """Records with lsn > ``after_lsn``. A torn or corrupt record ends the log: it and
    everything after it is cut off (the file truncated, later files removed)."""
    files = wal_files(wal_dir)
    expected = None  # LSNs are consecutive: a gap means leftovers, not a valid record
    for i, (_, path) in enumerate(files):
        with open(path, "rb") as f:
            data = memoryview(f.read())
        pos, cut = 0, False
        while pos < len(data):
            rec = _parse(data, pos)
            if rec is None:
                cut = True
                break
            record, end = rec
            if expected is not None and record.lsn != expected:
                cut = True
                break
            expected = record.lsn + 1
            if record.lsn > after_lsn:
                yield record
            pos = end
        if cut:
            data.release()
            with open(path, "r+b") as f:
                f.truncate(pos)
                os.fsync(f.fileno())
            for _, later in files[i + 1 :]:
                os.unlink(later)
            return


def _parse(data: memoryview, pos: int) -> tuple[WalRecord, int] | None:
    if len(data) - pos < HEADER.size:
        return None
    length, crc, lsn, ts, op = HEADER.unpack_from(data, pos)
    end = pos + HEADER.size + length
    if end > len(data):
        return None
    if zlib.crc32(data[pos + 8 : end]) != crc:
        return None
    return WalRecord(lsn, ts, op, data[pos + HEADER.size : end]), end


class WalWriter:
    """Appends records (the caller holds the engine's commit lock) and makes them durable."""

    def __init__(self, wal_dir: str, next_lsn: int,
                 on_durable: Callable[[int], None]) -> None:
        self.wal_dir = wal_dir
        self.next_lsn = next_lsn
        self._on_durable = on_durable  # called with the highest durable commit ts
        self._cond = threading.Condition()
        self._syncing = False
        self._applied = (next_lsn - 1, 0)  # (lsn, ts) of the last fully applied record
        self.durable_lsn = next_lsn - 1
        self.bytes_written = 0  # since open; the engine checkpoints past a threshold
        self._fd = -1
        self._file_bytes = 0  # end of the records in the open file (where the next one goes)
        self._allocated = 0  # end of the zeros written ahead of them
        self._open_file()

    def _open_file(self) -> None:
        path = os.path.join(self.wal_dir, _file_name(self.next_lsn))
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        # a file of this name holds no record (recovery cut it): empty, or new
        self._file_bytes = self._allocated = os.fstat(self._fd).st_size
        dfd = os.open(self.wal_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def append(self, ts: int, op: int, pieces: list) -> int:
        """Write one record; returns its LSN. Not durable until :meth:`wait_durable`."""
        if self._file_bytes >= FILE_LIMIT:
            self.rotate()
        lsn = self.next_lsn
        length = sum(memoryview(p).nbytes for p in pieces)
        tail = CRC_PART.pack(lsn, ts, op)
        crc = zlib.crc32(tail)
        for p in pieces:
            crc = zlib.crc32(p, crc)
        head = struct.pack("<II", length, crc) + tail
        buffers = [head, *pieces]
        total = len(head) + length
        if self._file_bytes + total > self._allocated:
            self._preallocate(self._file_bytes + total)
        written = os.pwritev(self._fd, buffers, self._file_bytes)
        if written != total:  # short write (rare): finish it piece by piece
            self._finish_write(buffers, written)
        self.next_lsn = lsn + 1
        self._file_bytes += total
        self.bytes_written += total
        return lsn

    def _finish_write(self, buffers: list, done: int) -> None:
        pos = self._file_bytes + done
        for b in buffers:
            mv = memoryview(b).cast("B")
            if done >= len(mv):
                done -= len(mv)
                continue
            mv = mv[done:]
            done = 0
            while len(mv):
                n = os.pwrite(self._fd, mv, pos)
                mv, pos = mv[n:], pos + n

    def _preallocate(self, end: int) -> None:
        """Zeros up to at least ``end`` and PREALLOCATE bytes past the last allocation,
        synced: the size of the file is durable before any commit relies on it."""
        target = max(end, self._allocated + PREALLOCATE)
        pos = self._allocated
        while pos < target:
            pos += os.pwrite(self._fd, memoryview(_ZEROS)[: min(len(_ZEROS), target - pos)], pos)
        os.fdatasync(self._fd)
        self._allocated = target

    def _trim_zeros(self) -> None:
        """Cut the zeros past the last record (a closed file ends with its last record)."""
        if self._allocated > self._file_bytes:
            os.ftruncate(self._fd, self._file_bytes)
            self._allocated = self._file_bytes

    def mark_applied(self, lsn: int, ts: int) -> None:
        """The record is in memory too: a sync may now make it visible."""
        with self._cond:
            self._applied = (lsn, max(ts, self._applied[1]))

    def wait_durable(self, lsn: int) -> None:
        with self._cond:
            while self.durable_lsn < lsn:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                target_lsn, target_ts = self._applied
                fd = self._fd
                self._cond.release()
                try:
                    os.fdatasync(fd)
                finally:
                    self._cond.acquire()
                    self._syncing = False
                    self._cond.notify_all()
                self.durable_lsn = max(self.durable_lsn, target_lsn)
                self._on_durable(target_ts)

    def flush(self) -> None:
        """Make everything applied so far durable."""
        with self._cond:
            lsn = self._applied[0]
        self.wait_durable(lsn)

    def rotate(self) -> None:
        """Close the current file (synced) and start a new one; caller holds the commit lock."""
        with self._cond:
            while self._syncing:
                self._cond.wait()
            # recovery reads files in order and ends the log at the first zero tail: the
            # zeros go, durably (fsync: the size too), before a later file exists
            self._trim_zeros()
            os.fsync(self._fd)
            os.close(self._fd)
            self._open_file()

    def trim(self, upto_lsn: int) -> None:
        """Remove files whose records are all covered by a checkpoint at ``upto_lsn``."""
        files = wal_files(self.wal_dir)
        for (_first, path), (next_first, _) in zip(files, files[1:]):
            if next_first - 1 <= upto_lsn:
                os.unlink(path)

    def close(self) -> None:
        with self._cond:
            while self._syncing:
                self._cond.wait()
            if self._fd >= 0:
                try:
                    self._trim_zeros()  # tidy only: recovery also cuts a zero tail
                except OSError:
                    pass
                os.close(self._fd)
                self._fd = -1


class NullWal:
    """The WAL of an in-memory engine: numbers records, writes nothing."""

    def __init__(self, on_durable: Callable[[int], None]) -> None:
        self.next_lsn = 1
        self.durable_lsn = 0
        self.bytes_written = 0
        self._on_durable = on_durable

    def append(self, ts: int, op: int, pieces: list) -> int:
        self.next_lsn += 1
        return self.next_lsn - 1

    def mark_applied(self, lsn: int, ts: int) -> None:
        self.durable_lsn = lsn
        self._on_durable(ts)

    def wait_durable(self, lsn: int) -> None:
        pass

    def flush(self) -> None:
        pass

    def rotate(self) -> None:
        pass

    def trim(self, upto_lsn: int) -> None:
        pass

    def close(self) -> None:
        pass
