"""Drives PyPI `trakt-scrobbler` (its Trakt interface, as its player
monitors do) for tests/clients.rs.

Run with HTTPS_PROXY and REQUESTS_CA_BUNDLE as pytrakt_driver.py is, and
XDG_DATA_HOME/XDG_CONFIG_HOME/HOME in a temporary folder: the token file and
the search cache live there. The stored token has expired, so the first call
refreshes it. The client id is replaced by a made-up one before use. Prints
one JSON line: the steps run and those that raised or came back empty.
"""

import json
import time

from steps import run, step


def main():
    from trakt_scrobbler import trakt_key_holder
    trakt_key_holder.get_id = lambda: "5c7e" + "0" * 60
    trakt_key_holder.get_secret = lambda: "6" * 64

    from trakt_scrobbler.app_dirs import DATA_DIR
    (DATA_DIR / "trakt_token.json").write_text(json.dumps({
        "access_token": "fake-expired-access-token",
        "refresh_token": "fake-refresh-token-for-tests",
        "token_type": "bearer",
        "scope": "public",
        "created_at": int(time.time()) - 100 * 24 * 3600,
        "expires_in": 7776000,
    }))

    from trakt_scrobbler import trakt_interface as ti

    movie = {"type": "movie", "title": "The Dark Knight", "year": 2008}
    episode = {"type": "episode", "title": "Breaking Bad", "season": 1, "episode": 1}

    # A player starts, pauses and stops a movie, then an episode; the title is
    # looked up first (the result is cached for the later calls).
    step("scrobble movie start", lambda: ti.scrobble("start", movie, 2.5))
    step("scrobble movie pause", lambda: ti.scrobble("pause", movie, 40.0))
    step("scrobble movie stop", lambda: ti.scrobble("stop", movie, 97.0))
    step("scrobble episode start", lambda: ti.scrobble("start", episode, 1.0))
    step("scrobble episode pause", lambda: ti.scrobble("pause", episode, 55.5))
    step("scrobble episode stop", lambda: ti.scrobble("stop", episode, 92.0))
    # The backlog: plays that could not be scrobbled go to history later.
    step("history movie", lambda: ti.add_to_history(movie, time.time() - 3600))
    step("history episode", lambda: ti.add_to_history(episode, time.time() - 1800))
    step("search", lambda: ti.search("Tron", ["movie", "show"], year=2010))


if __name__ == "__main__":
    run(main)
