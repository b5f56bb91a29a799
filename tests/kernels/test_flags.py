"""Where compiled kernels are cached: Numba's choice when it has one, a temporary folder or no
cache at all on a read-only install, said once."""

import numba
import pytest

from numgan.kernels import flags


@pytest.fixture
def no_locator(monkeypatch):
    """As on a read-only install: Numba finds nowhere to put a cache."""

    def refuse(fn):
        raise RuntimeError("cannot cache function '_probe': no locator available")

    monkeypatch.setattr(flags.caching, "FunctionCache", refuse)
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")


def test_numba_finds_a_cache_here():
    assert flags.CACHE and flags._NOTICE is None  # this checkout is writable


def test_a_read_only_install_caches_in_a_temporary_folder(no_locator, tmp_path, monkeypatch):
    monkeypatch.setattr(flags.tempfile, "tempdir", str(tmp_path))
    cache, notice = flags._choose_cache()
    assert cache and numba.config.CACHE_DIR.startswith(str(tmp_path))
    assert notice.startswith("numgan: the package and user cache folders are read-only")
    assert "NUMBA_CACHE_DIR" in notice and "\n" not in notice


def test_no_writable_folder_at_all_means_no_cache(no_locator, monkeypatch):
    def read_only(**kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(flags.tempfile, "mkdtemp", read_only)
    cache, notice = flags._choose_cache()
    assert not cache and "not cached" in notice and "\n" not in notice


def test_a_cache_dir_the_user_set_is_left_alone(monkeypatch, tmp_path):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    assert flags._choose_cache() == (True, None)
    assert numba.config.CACHE_DIR == str(tmp_path)
