"""Reading event logs: byte-for-byte lines, blank lines skipped, gzip, positions and errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from producers.exceptions import EventLogError, ProducersError
from producers.logs import EventLogReader, LogLine, check_readable, iter_log_lines, iter_raw_lines

# What a producer may really write: CRLF endings, a NUL, invalid UTF-8, whitespace inside, a last
# line without its newline. Every byte but the `\n` terminator must come out unchanged.
CONTENT = (
    b'{"a":1}\n\n{"b":2}\r\n   \t \r\n  {"c": 3}  \n\xff\xfe not utf-8 \x00\n\r\n{"last":true}'
)
EXPECTED = [
    (1, b'{"a":1}'),
    (3, b'{"b":2}\r'),
    (5, b'  {"c": 3}  '),
    (6, b"\xff\xfe not utf-8 \x00"),
    (8, b'{"last":true}'),
]


def write(path: Path, data: bytes) -> Path:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wb") as out:
            out.write(data)
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["events.jsonl", "events.jsonl.gz"])
def test_lines_come_out_byte_for_byte_with_their_line_numbers(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, CONTENT)

    lines = list(iter_log_lines([path]))

    assert [(line.lineno, line.raw) for line in lines] == EXPECTED
    assert {line.path for line in lines} == {str(path)}


def test_several_files_are_read_in_the_order_given(tmp_path: Path) -> None:
    first = write(tmp_path / "b.jsonl.gz", b"1\n2\n")
    second = write(tmp_path / "a.jsonl", b"3\n\n4")

    lines = list(iter_log_lines([first, str(second)]))

    assert lines == [
        LogLine(str(first), 1, b"1"),
        LogLine(str(first), 2, b"2"),
        LogLine(str(second), 1, b"3"),
        LogLine(str(second), 3, b"4"),
    ]
    assert list(iter_raw_lines([first, second])) == [b"1", b"2", b"3", b"4"]


@pytest.mark.parametrize(
    "data",
    [b"", b"\n", b"\n\n\r\n", b" \t\x0b\x0c\r\n", b"   "],
    ids=["empty", "newline", "blank-lines", "ascii-whitespace", "spaces-no-newline"],
)
def test_a_log_of_blank_lines_has_no_event(tmp_path: Path, data: bytes) -> None:
    assert list(iter_log_lines([write(tmp_path / "blank.jsonl", data)])) == []


def test_a_long_log_is_streamed_not_loaded(tmp_path: Path) -> None:
    line = b'{"event_id":"x","pad":"' + b"p" * 200 + b'"}'
    path = write(tmp_path / "big.jsonl.gz", (line + b"\n") * 50_000)
    reader = EventLogReader([path])

    seen = 0
    for item in reader:
        assert item.raw == line
        seen += 1
        if seen == 10:
            # A few lines in, only a read buffer's worth of the file has been consumed.
            assert 0 < reader.bytes_read < path.stat().st_size
    assert seen == 50_000
    assert reader.bytes_read == reader.total_bytes == path.stat().st_size


def test_a_missing_file_is_a_clear_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"

    with pytest.raises(EventLogError, match=r"cannot read event log .*nope\.jsonl: No such file"):
        list(iter_log_lines([missing]))
    with pytest.raises(EventLogError, match=r"nope\.jsonl"):
        check_readable([write(tmp_path / "ok.jsonl", b"1\n"), missing])


def test_a_directory_is_not_a_log(tmp_path: Path) -> None:
    with pytest.raises(EventLogError, match="cannot read event log"):
        check_readable([tmp_path])


def test_an_unreadable_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "secret.jsonl", b"1\n")

    def refuse(name: str, mode: str) -> None:
        raise PermissionError(13, "Permission denied", name)

    # Tests run as root in CI, for whom chmod 000 does not stop a read: refuse it here instead.
    monkeypatch.setattr("producers.logs.io.FileIO", refuse)
    with pytest.raises(EventLogError, match=r"secret\.jsonl: Permission denied"):
        list(iter_log_lines([path]))


def test_no_log_at_all_is_an_error() -> None:
    with pytest.raises(EventLogError, match="no event log"):
        check_readable([])


def test_a_gz_name_on_a_plain_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "plain.jsonl", b'{"a":1}\n').rename(tmp_path / "plain.jsonl.gz")

    with pytest.raises(EventLogError, match=r"is named \.gz but is not a gzip file"):
        check_readable([path])


def test_a_truncated_gzip_fails_after_the_lines_it_could_read(tmp_path: Path) -> None:
    body = b"".join(b'{"n":%d,"pad":"%s"}\n' % (i, b"x" * (i % 50)) for i in range(20_000))
    whole = gzip.compress(body)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])

    read: list[int] = []

    def consume() -> None:
        for line in iter_log_lines([path]):
            read.append(line.lineno)

    with pytest.raises(EventLogError, match=r"cut\.jsonl\.gz: corrupt or truncated") as err:
        consume()
    assert read == list(range(1, len(read) + 1))
    assert 0 < len(read) < 20_000
    assert f"after line {read[-1]}" in str(err.value)


def test_a_corrupt_gzip_stream_is_a_clear_error(tmp_path: Path) -> None:
    whole = bytearray(gzip.compress(b'{"a":1}\n' * 1000))
    whole[20:40] = b"\x00" * 20  # inside the deflate stream
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(bytes(whole))

    with pytest.raises(EventLogError, match=r"bad\.jsonl\.gz: corrupt or truncated gzip"):
        list(iter_log_lines([path]))


def test_log_errors_are_producer_errors_the_cli_prints_as_one_line(tmp_path: Path) -> None:
    with pytest.raises(ProducersError) as err:
        check_readable([tmp_path / "missing.jsonl"])
    assert "\n" not in str(err.value)
