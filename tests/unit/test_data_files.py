"""Listing a local dataset folder: symbolic links to folders are followed, loops are not."""
from __future__ import annotations

import os

from container.config import CsvFormat
from container.dataset import list_data_files, read_dataset


def _csv(path, rows: int, start: int = 0) -> None:
    path.write_text("a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(start, start + rows)))


def test_a_linked_folder_is_read_whole(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _csv(elsewhere / "part-0.csv", 60)
    _csv(elsewhere / "part-1.csv", 40, 60)
    (elsewhere / "_SUCCESS").write_text("")
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    _csv(dataset / "local.csv", 5)
    os.symlink(elsewhere, dataset / "linked")
    files = list_data_files(str(dataset))
    assert files == [str(dataset / "linked" / "part-0.csv"), str(dataset / "linked" / "part-1.csv"), str(dataset / "local.csv")]
    data = read_dataset(str(dataset), CsvFormat(header=True))
    assert data.total_bytes == sum(os.path.getsize(f) for f in files)
    assert data.profile().statistics.item_count == 105  # the 100 rows behind the link, and the folder's own 5

    only_link = tmp_path / "only-link"
    only_link.mkdir()
    os.symlink(elsewhere, only_link / "data")
    assert read_dataset(str(only_link), CsvFormat(header=True)).profile().statistics.item_count == 100


def test_a_link_loop_is_listed_once(tmp_path):
    dataset = tmp_path / "dataset"
    (dataset / "sub").mkdir(parents=True)
    _csv(dataset / "sub" / "x.csv", 3)
    os.symlink(dataset, dataset / "sub" / "back")  # a link to a folder that holds it
    os.symlink(tmp_path / "nothing-here", dataset / "dangling")
    assert list_data_files(str(dataset)) == [str(dataset / "sub" / "x.csv")]
