"""A link whose target is inside the tree but which gets there through a link outside it.

The content verifies today, but whoever controls the outside link redirects the model after
verification: the same risk as a link straight out of the tree (test_adv_model.py), so the
same finding, ``symlink-escape``. Found by the property tests' symlink mutations
(tests/property): before, only the final target was checked.
"""

from __future__ import annotations

import shutil

import pytest
from support.release import Release

WEIGHTS = "model.safetensors"


@pytest.mark.parametrize("form", ["absolute", "relative", "outside-then-inside-link"])
def test_a_link_through_an_outside_link_back_into_the_tree_escapes(
    release: Release, form: str
) -> None:
    outside = release.root / "outside"
    outside.mkdir()
    shutil.move(release.model / WEIGHTS, release.model / "blob")  # same content, inside
    hop = outside / "hop"
    match form:
        case "absolute":
            hop.symlink_to(release.model / "blob")
            (release.model / WEIGHTS).symlink_to(hop)
        case "relative":
            hop.symlink_to(f"../{release.model.name}/blob")
            (release.model / WEIGHTS).symlink_to("../outside/hop")
        case "outside-then-inside-link":  # out, back in to a link, then to the file
            (release.model / "inner").symlink_to("blob")
            hop.symlink_to(release.model / "inner")
            (release.model / WEIGHTS).symlink_to(hop)
    verdict = release.verify(json=True)
    assert verdict.code == 1
    f = verdict.finding("symlink-escape", WEIGHTS)
    assert f"through {hop}, a link outside" in f["actual"]
    # the blob the link reached is listed too: a file the SBOM does not name
    assert ("artifact-unexpected", "blob") in verdict.rules


def test_links_that_stay_inside_over_several_hops_still_verify(release: Release) -> None:
    (release.model / "blobs").mkdir()
    shutil.move(release.model / WEIGHTS, release.model / "blobs" / "abc")
    (release.model / "blobs" / "current").symlink_to("abc")
    (release.model / WEIGHTS).symlink_to("blobs/current")
    verdict = release.verify(json=True)
    # the link verifies (same content); only the two blob paths are extra files
    assert verdict.rules == [
        ("artifact-unexpected", "blobs/abc"),
        ("artifact-unexpected", "blobs/current"),
    ]


@pytest.mark.parametrize("dir_link", ["inside", "outside"])
def test_a_link_whose_way_passes_through_a_directory_link_outside_escapes(
    release: Release, dir_link: str
) -> None:
    # ``hop`` leads to a directory outside; the weights link goes through it and back in
    # (``hop/../model/blob``). Whoever controls that directory's place redirects the link.
    elsewhere = release.root / "elsewhere" / "d"
    elsewhere.mkdir(parents=True)
    shutil.move(release.model / WEIGHTS, release.model / "blob")
    hop = (release.model if dir_link == "inside" else release.root) / "hop"
    hop.symlink_to(elsewhere)
    way = "hop" if dir_link == "inside" else "../hop"
    (release.model / WEIGHTS).symlink_to(f"{way}/../../{release.model.name}/blob")
    assert (release.model / WEIGHTS).read_bytes() == (release.model / "blob").read_bytes()
    verdict = release.verify(json=True)
    assert verdict.code == 1
    f = verdict.finding("symlink-escape", WEIGHTS)
    assert "a directory link leading outside" in f["actual"]
