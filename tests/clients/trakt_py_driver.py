"""Drives PyPI `trakt.py` (fuzeman's client, used by Plex and Kodi
scrobblers and by Medusa) for tests/clients.rs, as its users do: device
login, a PIN login, an expired token refreshed by the client on the next
call, the user's settings and sync reads, scrobbles of a movie and an
episode, and history/watchlist/collection/ratings writes.

It installs as the package `trakt`, like pytrakt, so it lives in a venv of
its own (target/clients-venv-traktpy, tests/clients/requirements-traktpy.txt).
Run with HTTPS_PROXY and REQUESTS_CA_BUNDLE as pytrakt_driver.py is (the
bundle is set on trakt.py's session, see below): every call goes to api.trakt.tv, which the proxy sends to a loopback fake. Ids and
tokens are made up. Prints one JSON line: the steps run and those that
raised or came back empty.
"""

import calendar
import os
import threading
import time
from datetime import datetime

from steps import FAILED, STEPS, run, step


MOVIE = {"title": "The Dark Knight", "year": 2008,
         "ids": {"trakt": 120, "slug": "the-dark-knight-2008", "imdb": "tt0468569", "tmdb": 155}}
SHOW = {"title": "Breaking Bad", "year": 2008,
        "ids": {"trakt": 1388, "slug": "breaking-bad", "tvdb": 81189, "imdb": "tt0903747", "tmdb": 1396}}


def main():
    from trakt import Trakt

    Trakt.configuration.defaults.client(id="7ac0" + "0" * 60, secret="8" * 64)
    Trakt.configuration.defaults.app(name="trakt-doctor-client-tests", version="1.0.0", date="2026-11-01")
    Trakt.configuration.defaults.http(retry=False)
    # trakt.py sends with requests' Session.send, which reads HTTPS_PROXY but
    # not REQUESTS_CA_BUNDLE: the CA bundle goes on the session it owns, as an
    # app behind a TLS-intercepting proxy sets it.
    Trakt.http.session.verify = os.environ["REQUESTS_CA_BUNDLE"]

    # Device login: the code, then the poller thread until it is approved.
    code = step("device code", lambda: Trakt["oauth/device"].code())
    authorized = {}
    if code:
        done = threading.Event()
        poller = Trakt["oauth/device"].poll(**code)
        poller.on("authenticated", lambda auth: (authorized.update(auth), done.set()))
        poller.on("expired", lambda: done.set())
        poller.on("poll", lambda callback: callback(True))
        STEPS.append("device poll")
        poller.start(daemon=True)
        if not done.wait(20) or not authorized:
            FAILED.append({"step": "device poll", "error": "no token"})
    # A PIN login: the code the user copied from trakt.tv/pin.
    step("pin exchange", lambda: Trakt["oauth"].token_exchange("FAKEPIN1", "urn:ietf:wg:oauth:2.0:oob"))

    # The saved token expired a day ago; with refresh=True the client
    # refreshes it before the next call.
    expired = {
        "access_token": "fake-expired-access-token",
        "refresh_token": "fake-refresh-token-for-tests",
        "token_type": "bearer",
        "scope": "public",
        "created_at": calendar.timegm(datetime.utcnow().utctimetuple()) - 8 * 24 * 3600,
        "expires_in": 7 * 24 * 3600,
    }
    refreshed = []
    Trakt.on("oauth.refresh", lambda username, authorization: refreshed.append(authorization))
    with Trakt.configuration.oauth.from_response(expired, refresh=True):
        step("user settings", lambda: Trakt["users/settings"].get())
        if not refreshed:
            FAILED.append({"step": "refresh", "error": "the client did not refresh an expired token"})
        step("last activities", lambda: Trakt["sync"].last_activities())
        step("history movies", lambda: list(Trakt["sync/history"].movies(pagination=True, per_page=50)))
        step("watchlist shows", lambda: Trakt["sync/watchlist"].shows())
        step("collection movies", lambda: Trakt["sync/collection"].movies())
        step("watched shows", lambda: Trakt["sync/watched"].shows())
        step("ratings movies", lambda: Trakt["sync/ratings"].movies())
        step("playback", lambda: Trakt["sync/playback"].get())
        step("search", lambda: Trakt["search"].query("The Dark Knight", "movie", year=2008))
        step("lookup", lambda: Trakt["search"].lookup("tt0903747", "imdb"))

        # A player: start, pause, resume and stop a movie, then an episode.
        step("scrobble movie start", lambda: Trakt["scrobble"].start(movie=MOVIE, progress=1.5))
        time.sleep(1.05)
        step("scrobble movie pause", lambda: Trakt["scrobble"].pause(movie=MOVIE, progress=42.0))
        time.sleep(1.05)
        step("scrobble movie stop", lambda: Trakt["scrobble"].stop(movie=MOVIE, progress=96.5))
        time.sleep(1.05)
        step("scrobble episode start", lambda: Trakt["scrobble"].start(
            show=SHOW, episode={"season": 1, "number": 1}, progress=3.0))
        time.sleep(1.05)
        step("scrobble episode stop", lambda: Trakt["scrobble"].stop(
            show=SHOW, episode={"season": 1, "number": 1}, progress=88.0))
        time.sleep(1.05)

        # A sync: plays, the watchlist, the collection and ratings.
        step("history add", lambda: Trakt["sync/history"].add({
            "movies": [dict(MOVIE, watched_at="2026-11-20T21:30:00.000Z")],
            "shows": [dict(SHOW, seasons=[{"number": 1, "episodes": [
                {"number": 2, "watched_at": "2026-11-21T20:00:00.000Z"}]}])],
        }))
        time.sleep(1.05)
        step("watchlist add", lambda: Trakt["sync/watchlist"].add({"shows": [SHOW]}))
        time.sleep(1.05)
        step("watchlist remove", lambda: Trakt["sync/watchlist"].remove({"shows": [SHOW]}))
        time.sleep(1.05)
        step("collection add", lambda: Trakt["sync/collection"].add({
            "movies": [dict(MOVIE, collected_at="2026-01-05T12:00:00.000Z", media_type="bluray",
                            resolution="hd_1080p", audio="dts_ma", audio_channels="5.1")]}))
        time.sleep(1.05)
        step("ratings add", lambda: Trakt["sync/ratings"].add({"movies": [dict(MOVIE, rating=9)]}))


if __name__ == "__main__":
    run(main)
