"""The `url` source: an HTTP(S) download with a timeout, retries with backoff and an optional sha256."""

from __future__ import annotations

from pathlib import Path

from ..download import download
from . import CollectError, Origin, Source, store


class UrlSource(Source):
    """Download data.url (a .gz download is unpacked; data.sha256 is of the downloaded bytes)."""

    KIND = "url"

    def fetch(self, target: Path) -> Origin:
        url = self.data.url
        if not url:
            raise CollectError("data.source is 'url' but data.url is empty; set it in params.yaml.")
        downloaded = target.with_name(target.name + ".download")
        digest = download(
            url,
            downloaded,
            expected_sha256=self.data.sha256,
            timeout=self.data.timeout_seconds,
            retries=self.data.retries,
        )
        _, compression = store(downloaded, target)
        downloaded.unlink()
        return Origin(location=url, sha256=digest, url=url, compression=compression)
