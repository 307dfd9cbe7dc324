"""Org paths (contract §6): ``province/university/school``; a key sees one subtree."""

from __future__ import annotations


def org_covers(subtree: str | None, org_id: str) -> bool:
    """Whether ``org_id`` lies in ``subtree`` (None: everything, for admin keys).

    >>> org_covers("zhejiang/hdu", "zhejiang/hdu/computing"), org_covers("zhejiang/hdu", "zhejiang/hdux")
    (True, False)
    """
    if subtree is None:
        return True
    return org_id == subtree or org_id.startswith(subtree + "/")
