"""Drives PyPI `pakt` (a Plex-Trakt sync, 2026) for tests/clients.rs: its
device login, the token refresh its client does on opening, then one real
sync pass of its own engine (movies, episodes, collection phases) against a
made-up Plex library, a watchlist read and the logout's revoke.

Run with HTTPS_PROXY (httpx reads it) and SSL_CERT_FILE (certifi's roots
plus the proxy's CA: httpx loads that file in place of certifi's), HOME in a
temporary folder. pakt sends OAuth calls to auth.trakt.tv and the rest to
api.trakt.tv; both lead to the proxy and the loopback fake. Its own client
id is replaced by a made-up one. Only the Plex side is a stand-in: objects
with the attributes PlexAPI gives and pakt reads. Prints one JSON line: the
steps run and those that raised or came back empty.
"""

import asyncio
import time
from datetime import datetime
from types import SimpleNamespace as NS

from steps import FAILED, run, step_async as step


def guid(value):
    return NS(id=value)


def media_4k_hdr():
    """A 4K HDR10 copy with a TrueHD Atmos 7.1 track, as PlexAPI describes it."""
    video = NS(streamType=1, DOVIPresent=False, colorTrc="smpte2084", displayTitle="4K HDR10")
    audio = NS(streamType=2, displayTitle="TrueHD Atmos 7.1", extendedDisplayTitle="English (TrueHD Atmos 7.1)",
               audioChannelLayout="7.1")
    return NS(videoResolution="4k", audioCodec="truehd", audioChannels=8,
              parts=[NS(streams=[video, audio])])


def media_1080():
    video = NS(streamType=1, DOVIPresent=False, colorTrc=None, displayTitle="1080p")
    audio = NS(streamType=2, displayTitle="AC3 5.1", extendedDisplayTitle="English (AC3 5.1)",
               audioChannelLayout="5.1(side)")
    return NS(videoResolution="1080", audioCodec="ac3", audioChannels=6,
              parts=[NS(streams=[video, audio])])


class StubPlex:
    """The Plex server pakt syncs with: two movies and two episodes of a show."""

    def __init__(self):
        watched = datetime(2026, 11, 20, 21, 30, 0)
        self.movies = [
            NS(ratingKey=101, title="The Dark Knight", year=2008, guid="plex://movie/5d776825880197001ec967c4",
               guids=[guid("imdb://tt0468569"), guid("tmdb://155")], isWatched=True, lastViewedAt=watched,
               userRating=9.0, lastRatedAt=watched, addedAt=datetime(2026, 1, 5, 12, 0, 0),
               media=[media_4k_hdr(), media_1080()]),
            NS(ratingKey=102, title="Tron: Legacy", year=2010, guid="com.plexapp.agents.imdb://tt1104001?lang=en",
               guids=[], isWatched=False, lastViewedAt=None, userRating=None, lastRatedAt=None,
               addedAt=datetime(2026, 2, 1, 8, 0, 0), media=[media_1080()]),
        ]
        self.shows = [
            NS(ratingKey=201, title="Breaking Bad", year=2008, guid="plex://show/5d9c086c46115600200aa2fe",
               guids=[guid("imdb://tt0903747"), guid("tmdb://1396"), guid("tvdb://81189")]),
        ]
        self.episodes = [
            NS(ratingKey=301 + n, grandparentRatingKey=201, grandparentTitle="Breaking Bad", parentIndex=1, index=n,
               viewCount=1, userRating=8.0 if n == 1 else None, lastViewedAt=datetime(2026, 11, 2, 20, 0, n),
               lastRatedAt=datetime(2026, 11, 2, 21, 0, 0) if n == 1 else None,
               addedAt=datetime(2026, 1, 10, 9, 0, 0), media=[media_1080()])
            for n in (1, 2)
        ]

    def get_all_movies_with_counts(self, library_names=None):
        return list(self.movies), {"Movies": len(self.movies)}

    def get_all_shows_with_counts(self, library_names=None):
        return list(self.shows), {"TV Shows": len(self.shows)}

    def get_all_episodes_with_counts(self, library_names=None):
        return list(self.episodes), {"TV Shows": len(self.episodes)}

    def mark_watched_batch(self, items, max_workers=10):
        return []

    def rate_batch(self, items, max_workers=10):
        return []


async def main():
    from pakt.config import Config, TraktConfig
    from pakt.models import SyncResult
    from pakt.sync import collection, episodes, movies
    from pakt.sync.engine import SyncEngine
    from pakt.trakt import DeviceAuthStatus, TraktClient

    client_id = "9a4c" + "0" * 60
    config = Config(trakt=TraktConfig(client_id=client_id))
    config.sync.collection_plex_to_trakt = True

    # `pakt login`: a device code, then polling until the user approves it.
    login = TraktClient(config.trakt)
    codes = await step("device code", login.device_code)
    if codes:
        result = await step("device token", lambda: login.poll_device_token(
            codes["device_code"], codes.get("interval", 5), codes.get("expires_in", 600)))
        if result is not None and result.status != DeviceAuthStatus.SUCCESS:
            FAILED.append({"step": "device token", "error": f"{result.status}: {result.message}"})

    # The token the login stored, now two hours from expiry: opening the
    # client refreshes it (pakt refreshes within a day of expiry).
    config.trakt.access_token = "fake-access-token-for-tests"
    config.trakt.refresh_token = "fake-refresh-token-for-tests"
    config.trakt.expires_at = int(time.time()) + 2 * 3600
    refreshed = []
    async with TraktClient(config.trakt, on_token_refresh=refreshed.append) as trakt:
        if not refreshed:
            FAILED.append({"step": "token refresh", "error": "the client did not refresh a token 2 h from expiry"})
        engine = SyncEngine(config, trakt, StubPlex())
        result = SyncResult()
        await step("sync movies", lambda: movies.run(engine, result, dry_run=False))
        await step("sync episodes", lambda: episodes.run(engine, result, dry_run=False))
        await step("sync collection", lambda: collection.run(engine, result, dry_run=False))
        if result.errors:
            FAILED.append({"step": "sync", "error": "; ".join(result.errors)})
        await step("watchlist movies", trakt.get_watchlist_movies)
        await step("watchlist shows", trakt.get_watchlist_shows)
        # `pakt logout`
        await step("revoke", trakt.revoke_token)


if __name__ == "__main__":
    run(main)
