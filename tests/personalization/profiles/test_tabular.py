"""The CSV / JSON Lines push parser: chunk boundaries, encodings, quotes, over-long records."""

from __future__ import annotations

from personalization.profiles.tabular import RecordReader, Rejection


def test_reader_is_indifferent_to_chunk_boundaries_bom_and_semicolons() -> None:
    text = "\ufeffid;name;note\r\n1;Jürgen;\"a;b\"\r\n2;Zoë;\"x\n\"\"y\"\"\"\r\n3;Ünal;z"
    data = text.encode()
    whole = RecordReader("csv")
    expected = whole.feed(data) + whole.close()
    bytewise = RecordReader("csv")
    got = [r for i in range(len(data)) for r in bytewise.feed(data[i : i + 1])] + bytewise.close()
    assert got == expected
    assert expected == [
        (2, {"id": "1", "name": "Jürgen", "note": "a;b"}),
        (3, {"id": "2", "name": "Zoë", "note": 'x\n"y"'}),
        (5, {"id": "3", "name": "Ünal", "note": "z"}),
    ]


def test_reader_rejects_overlong_records_and_carries_on() -> None:
    reader = RecordReader("jsonl", max_record_chars=100)
    out = reader.feed(b'{"a": 1}\n' + b"x" * 150)
    out += reader.feed(b"y" * 150 + b'\n{"b": 2}\n')
    out += reader.close()
    assert out == [(1, {"a": 1}), (2, Rejection(2, None, "line too long")), (3, {"b": 2})]
    csv_reader = RecordReader("csv", max_record_chars=50)
    records = csv_reader.feed(b'a,b\n1,"open\n' + b"z" * 60 + b"\n2,3\n") + csv_reader.close()
    assert records[0] == (2, Rejection(2, None, "record too long (unbalanced quotes?)"))
