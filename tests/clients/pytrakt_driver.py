"""Drives PyPI `pytrakt` the way its users do, for tests/clients.rs.

Run by the test with HTTPS_PROXY pointing at trakt-doctor and
REQUESTS_CA_BUNDLE holding the system roots plus the trakt-doctor CA; every
call goes to api.trakt.tv, which the proxy sends to a loopback fake. Ids and
tokens are made up. Prints one JSON line: the steps run and those that raised
(a raise means the fake answered something the library could not use).
"""

import os
import tempfile
import time

import steps
from steps import run


def step(name, call):
    """A step of pytrakt: its calls return None on success (only raising
    fails), and lazy properties and generators only fetch when consumed."""

    def consumed():
        result = call()
        if isinstance(result, (list, tuple)):
            list(result)
        return result

    return steps.step(name, consumed, none_fails=False)


def main():
    import trakt
    import trakt.core

    config_dir = tempfile.mkdtemp(prefix="pytrakt-")
    trakt.core.CONFIG_PATH = os.path.join(config_dir, "pytrakt.json")
    trakt.core.CLIENT_ID = "0" * 56 + "c11e7e57"
    trakt.core.CLIENT_SECRET = "5" * 64

    from trakt import movies, tv, users, sync, calendar
    from trakt.movies import Movie
    from trakt.people import Person
    from trakt.tv import TVShow, TVEpisode, TVSeason

    # Phase 1: a user who set the client id but has not logged in yet.
    # pytrakt then sends public calls without `trakt-api-key` (TokenAuth adds
    # the key only together with a token).
    step("public: search movie", lambda: sync.search("The Dark Knight", search_type="movie"))
    step("public: trending shows", lambda: tv.trending_shows())

    # Phase 2: logged in. The token expires within pytrakt's 10 minute margin,
    # so the first call refreshes it through POST /oauth/token.
    trakt.core.OAUTH_TOKEN = "fake-access-token-for-tests"
    trakt.core.OAUTH_REFRESH = "fake-refresh-token-for-tests"
    trakt.core.OAUTH_EXPIRES_AT = int(time.time()) + 120
    trakt.core.config.cache_clear()
    trakt.core.api.cache_clear()

    # Search and lookups.
    step("search show", lambda: sync.search("Breaking Bad", search_type="show"))
    step("search all types", lambda: sync.get_search_results("Tron", ["movie", "show", "episode", "person"]))
    step("search by imdb id", lambda: sync.search_by_id("tt0468569", id_type="imdb"))
    step("search by tmdb id", lambda: sync.search_by_id("1396", id_type="tmdb", media_type="show"))

    # Movies.
    movie = step("movie summary", lambda: Movie("The Dark Knight", year=2008))
    if movie is not None:
        step("movie aliases", lambda: movie.aliases)
        step("movie people", lambda: movie.people)
        step("movie ratings", lambda: movie.ratings)
        step("movie related", lambda: movie.related)
        step("movie comments", lambda: movie.comments)
        step("movie watching now", lambda: movie.watching_now)
        step("movie releases", lambda: movie.get_releases("us"))
        step("movie translations", lambda: movie.get_translations("de"))
        step("movie add to collection", lambda: movie.add_to_library())
        step("movie add to watchlist", lambda: movie.add_to_watchlist())
        step("movie mark as seen", lambda: movie.mark_as_seen())
        step("movie rate", lambda: movie.rate(9))
        step("movie comment", lambda: movie.comment("A fine film, seen twice.", spoiler=False))
        step("movie scrobble start", lambda: movie.scrobble(12.5, "1.0", "2026-01-01"))
        scrobbler = sync.Scrobbler(movie, 0, "1.0", "2026-01-01")
        step("movie scrobble start (explicit)", lambda: scrobbler.start(30.0))
        step("movie scrobble pause", lambda: scrobbler.pause(45.0))
        step("movie scrobble stop", lambda: scrobbler.stop(95.0))
        step("movie checkin", lambda: movie.checkin("1.0", "2026-01-01", message="Watching"))
        step("movie remove from watchlist", lambda: movie.remove_from_watchlist())
        step("movie remove from collection", lambda: movie.remove_from_library())
        step("movie mark as unseen", lambda: movie.mark_as_unseen())
        step("movie dismiss recommendation", lambda: movie.dismiss())
    step("movie genres", lambda: movies.genres())
    step("trending movies", lambda: movies.trending_movies())
    step("updated movies", lambda: movies.updated_movies("2026-11-01"))
    step("recommended movies (personal)", lambda: movies.get_recommended_movies())

    # Shows, seasons, episodes.
    show = step("show summary", lambda: TVShow("Breaking Bad"))
    if show is not None:
        step("show aliases", lambda: show.aliases)
        step("show people", lambda: show.people)
        step("show ratings", lambda: show.ratings)
        step("show related", lambda: show.related)
        step("show comments", lambda: show.comments)
        step("show seasons", lambda: show.seasons)
        step("show last episode", lambda: show.last_episode)
        step("show next episode", lambda: show.next_episode)
        step("show watching now", lambda: show.watching_now)
        step("show translations", lambda: show.get_translations("de"))
        step("show watched progress", lambda: show.watched_progress())
        step("show collection progress", lambda: show.collection_progress(hidden=True, specials=True))
        step("show add to watchlist", lambda: show.add_to_watchlist())
        step("show add to collection", lambda: show.add_to_library())
        step("show mark as seen", lambda: show.mark_as_seen())
        step("show rate", lambda: show.rate(8))
        step("show comment", lambda: show.comment("Still the best drama on television."))
        step("show remove from watchlist", lambda: show.remove_from_watchlist())
        step("show remove from collection", lambda: show.remove_from_library())
    season = step("season", lambda: TVSeason("Breaking Bad", 1))
    if season is not None:
        step("season episodes", lambda: season.episodes)
        step("season ratings", lambda: season.ratings)
        step("season comments", lambda: season.comments)
        step("season watching now", lambda: season.watching_now)
    episode = step("episode summary", lambda: TVEpisode("Breaking Bad", 1, 1))
    if episode is not None:
        step("episode ratings", lambda: episode.ratings)
        step("episode comments", lambda: episode.comments)
        step("episode watching now", lambda: episode.watching_now)
        step("episode add to collection", lambda: episode.add_to_library())
        step("episode add to watchlist", lambda: episode.add_to_watchlist())
        step("episode mark as seen", lambda: episode.mark_as_seen())
        step("episode rate", lambda: episode.rate(7))
        step("episode scrobble", lambda: episode.scrobble(5.0, "1.0", "2026-01-01"))
        scrobbler = sync.Scrobbler(episode, 0, "1.0", "2026-01-01")
        step("episode scrobble start", lambda: scrobbler.start(10.0))
        step("episode scrobble pause", lambda: scrobbler.pause(50.0))
        step("episode scrobble stop", lambda: scrobbler.stop(99.0))
        step("episode checkin", lambda: episode.checkin("1.0", "2026-01-01"))
        step("episode remove from watchlist", lambda: episode.remove_from_watchlist())
    step("delete checkin", lambda: sync.delete_checkin())
    step("show genres", lambda: tv.genres())
    step("popular shows", lambda: tv.popular_shows())
    step("updated shows", lambda: tv.updated_shows())
    step("recommended shows (weekly)", lambda: tv.recommended_shows("weekly"))
    step("played shows", lambda: tv.played_shows("monthly"))
    step("watched shows", lambda: tv.watched_shows("yearly"))
    step("collected shows", lambda: tv.collected_shows("all"))
    step("anticipated shows", lambda: tv.anticipated_shows())
    step("recommended shows (personal)", lambda: tv.get_recommended_shows())
    step("dismiss show recommendation by title", lambda: tv.dismiss_recommendation("The Walking Dead"))

    # People.
    person = step("person summary", lambda: Person("Bryan Cranston"))
    if person is not None:
        step("person movie credits", lambda: person.movie_credits)
        step("person show credits", lambda: person.tv_credits)

    # Calendars.
    step("calendar shows", lambda: calendar.ShowCalendar(date="2026-11-01", days=7))
    step("calendar my shows", lambda: calendar.MyShowCalendar(date="2026-11-01", days=7))
    step("calendar premieres", lambda: calendar.PremiereCalendar(date="2026-11-01", days=7))
    step("calendar my premieres", lambda: calendar.MyPremiereCalendar(date="2026-11-01", days=7))
    step("calendar new shows", lambda: calendar.SeasonCalendar(date="2026-11-01", days=7))
    step("calendar movies", lambda: calendar.MovieCalendar(date="2026-11-01", days=7))
    step("calendar my movies", lambda: calendar.MyMovieCalendar(date="2026-11-01", days=7))

    # The user's library.
    step("watchlist", lambda: sync.get_watchlist())
    step("watchlist movies by rank", lambda: sync.get_watchlist("movies", "rank"))
    step("watched shows", lambda: sync.get_watched("shows"))
    step("collection movies", lambda: sync.get_collection("movies"))
    step("playback", lambda: sync.get_playback("movies"))
    step("history add (custom items)", lambda: sync.add_to_history(
        {"movies": [{"ids": {"imdb": "tt0468569"}, "watched_at": "2026-11-01T20:00:00.000Z"}]}))

    # Users, lists, social.
    step("user settings", lambda: users.get_user_settings())
    me = step("user profile", lambda: users.User("sean"))
    if me is not None:
        step("user followers", lambda: me.followers)
        step("user following", lambda: me.following)
        step("user friends", lambda: me.friends)
        step("user lists", lambda: me.lists)
        step("user watchlist movies", lambda: me.watchlist_movies)
        step("user watchlist shows", lambda: me.watchlist_shows)
        step("user movie collection", lambda: me.movie_collection)
        step("user show collection", lambda: me.show_collection)
        step("user watched movies", lambda: me.watched_movies)
        step("user watched shows", lambda: me.watched_shows)
        step("user watching", lambda: me.watching)
        step("user ratings", lambda: me.get_ratings("movies", 9))
        step("user stats", lambda: me.get_stats())
        step("user liked lists", lambda: me.get_liked_lists("lists", limit=10))
    user_list = step("create list", lambda: users.UserList.create("Favourites", "sean", description="made by the test"))
    if user_list is not None:
        step("list items", lambda: user_list.get_items())
        step("list add items", lambda: user_list.add_items(movie) if movie is not None else None)
        step("list remove items", lambda: user_list.remove_items(movie) if movie is not None else None)
        step("list like", lambda: user_list.like())
        step("list unlike", lambda: user_list.unlike())
        step("list delete", lambda: user_list.delete_list())
    step("follow", lambda: users.follow("another-user"))
    step("unfollow", lambda: users.unfollow("another-user"))
    step("follower requests", lambda: users.get_all_requests())


if __name__ == "__main__":
    run(main)
