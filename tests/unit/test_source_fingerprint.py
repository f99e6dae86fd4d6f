"""A table caught mid-overwrite has no fingerprint (not the digest of no files): the new-data
sensor must not refresh an empty table and then refresh again when the write lands."""

from pathlib import Path

from aurora_pipelines.settings import Settings
from aurora_pipelines.sources.fingerprint import managed_table_dir, source_fingerprint
from aurora_pipelines.specs import SourceSpec

TABLE = "raw_sources.batch"


def test_table_fingerprint_ignores_a_write_still_staged(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    source = SourceSpec(kind="table", table=TABLE)
    folder = managed_table_dir(settings, TABLE)
    (folder / "_temporary" / "0").mkdir(parents=True)
    (folder / "_temporary" / "0" / "part-0.parquet").write_bytes(b"staged")
    assert source_fingerprint(source, settings) is None
    (folder / "part-0.parquet").write_bytes(b"committed")
    first = source_fingerprint(source, settings)
    assert first and first.startswith("table:")
    (folder / "part-1.parquet").write_bytes(b"more")
    assert source_fingerprint(source, settings) not in (None, first)
