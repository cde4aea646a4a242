// Drives npm `trakt.tv` the way its users (Stremio addons among them) do, for
// tests/clients.rs. Node before 24 ignores HTTPS_PROXY, so global-agent routes
// every request through trakt-doctor (GLOBAL_AGENT_HTTP_PROXY) and
// NODE_EXTRA_CA_CERTS trusts its CA. Every call goes to api.trakt.tv, which
// the proxy sends to a loopback fake. Ids and tokens are made up. Prints one
// JSON line: the steps run and those that threw.
'use strict';

require('global-agent').bootstrap();
const Trakt = require('trakt.tv');

const steps = [];
const failed = [];

async function step(name, call) {
    steps.push(name);
    try {
        return await call();
    } catch (e) {
        failed.push({ step: name, error: String(e && e.message || e) });
        return undefined;
    }
}

const movie = { ids: { trakt: 120, imdb: 'tt0468569', tmdb: 155, slug: 'the-dark-knight-2008' } };
const episode = { ids: { trakt: 62085, tvdb: 349232, imdb: 'tt0959621', tmdb: 62085 } };
const show = { ids: { trakt: 1388, slug: 'breaking-bad', tvdb: 81189, imdb: 'tt0903747', tmdb: 1396 } };

async function main() {
    const trakt = new Trakt({
        client_id: 'c11e7e57' + '0'.repeat(56),
        client_secret: '5'.repeat(64),
        redirect_uri: 'urn:ietf:wg:oauth:2.0:oob',
    });

    // Device login, as a TV addon does, then the code exchange of a web login.
    await step('device code', () => trakt.get_codes());
    await step('exchange code', () => trakt.exchange_code('fake-authorization-code'));
    // The token a Stremio addon keeps in its config: set directly.
    await step('import token', () => trakt.import_token({
        access_token: 'fake-access-token-for-tests',
        refresh_token: 'fake-refresh-token-for-tests',
        expires: Date.now() + 7 * 24 * 3600 * 1000,
    }));

    // Search and lookups.
    await step('search text', () => trakt.search.text({ type: 'movie,show', query: 'Breaking Bad', extended: 'full' }));
    await step('search id', () => trakt.search.id({ id_type: 'imdb', id: 'tt0903747', type: 'show' }));
    await step('movies trending', () => trakt.movies.trending({ page: 1, limit: 20, extended: 'full' }));
    await step('movies popular', () => trakt.movies.popular({ limit: 20 }));
    await step('movies recommended', () => trakt.movies.recommended({ period: 'weekly' }));
    await step('movies played', () => trakt.movies.played({ period: 'monthly' }));
    await step('movies watched', () => trakt.movies.watched({ period: 'weekly' }));
    await step('movies collected', () => trakt.movies.collected({ period: 'all' }));
    await step('movies anticipated', () => trakt.movies.anticipated());
    await step('movies boxoffice', () => trakt.movies.boxoffice());
    await step('movies updates', () => trakt.movies.updates({ start_date: '2026-11-01' }));
    await step('movie summary', () => trakt.movies.summary({ id: 'tt0468569', extended: 'full' }));
    await step('movie aliases', () => trakt.movies.aliases({ id: 'the-dark-knight-2008' }));
    await step('movie releases', () => trakt.movies.releases({ id: 'the-dark-knight-2008', country: 'us' }));
    await step('movie translations', () => trakt.movies.translations({ id: 'the-dark-knight-2008', language: 'de' }));
    await step('movie comments', () => trakt.movies.comments({ id: 'the-dark-knight-2008', sort: 'likes' }));
    await step('movie lists', () => trakt.movies.lists({ id: 'the-dark-knight-2008', type: 'personal', sort: 'popular' }));
    await step('movie people', () => trakt.movies.people({ id: 'the-dark-knight-2008' }));
    await step('movie ratings', () => trakt.movies.ratings({ id: 'the-dark-knight-2008' }));
    await step('movie related', () => trakt.movies.related({ id: 'the-dark-knight-2008', limit: 10 }));
    await step('movie stats', () => trakt.movies.stats({ id: 'the-dark-knight-2008' }));
    await step('movie watching', () => trakt.movies.watching({ id: 'the-dark-knight-2008' }));

    await step('shows trending', () => trakt.shows.trending({ extended: 'full' }));
    await step('shows recommended', () => trakt.shows.recommended({ period: 'weekly' }));
    await step('shows collected', () => trakt.shows.collected({ period: 'weekly' }));
    await step('show summary', () => trakt.shows.summary({ id: 'breaking-bad', extended: 'full' }));
    await step('show people', () => trakt.shows.people({ id: 'breaking-bad', extended: 'guest_stars' }));
    await step('show ratings', () => trakt.shows.ratings({ id: 'breaking-bad' }));
    await step('show next episode', () => trakt.shows.next_episode({ id: 'breaking-bad' }));
    await step('show last episode', () => trakt.shows.last_episode({ id: 'breaking-bad' }));
    await step('show watched progress', () => trakt.shows.progress.watched({ id: 'breaking-bad', hidden: 'false', specials: 'false' }));
    await step('show collection progress', () => trakt.shows.progress.collection({ id: 'breaking-bad' }));
    await step('seasons', () => trakt.seasons.summary({ id: 'breaking-bad', extended: 'episodes' }));
    await step('season', () => trakt.seasons.season({ id: 'breaking-bad', season: 1 }));
    await step('season ratings', () => trakt.seasons.ratings({ id: 'breaking-bad', season: 1 }));
    await step('season stats', () => trakt.seasons.stats({ id: 'breaking-bad', season: 1 }));
    await step('episode summary', () => trakt.episodes.summary({ id: 'breaking-bad', season: 1, episode: 1, extended: 'full' }));
    await step('episode translations', () => trakt.episodes.translations({ id: 'breaking-bad', season: 1, episode: 1, language: 'de' }));
    await step('episode comments', () => trakt.episodes.comments({ id: 'breaking-bad', season: 1, episode: 1, sort: 'newest' }));
    await step('episode ratings', () => trakt.episodes.ratings({ id: 'breaking-bad', season: 1, episode: 1 }));

    await step('person summary', () => trakt.people.summary({ id: 'bryan-cranston', extended: 'full' }));
    await step('person movies', () => trakt.people.movies({ id: 'bryan-cranston' }));
    await step('person shows', () => trakt.people.shows({ id: 'bryan-cranston' }));

    await step('calendar my shows', () => trakt.calendars.my.shows({ start_date: '2026-11-01', days: 7 }));
    await step('calendar all movies', () => trakt.calendars.all.movies({ start_date: '2026-11-01', days: 7 }));
    await step('calendar all new shows', () => trakt.calendars.all.new_shows({ start_date: '2026-11-01', days: 7 }));
    await step('genres', () => trakt.genres({ type: 'movies' }));
    await step('certifications', () => trakt.certifications({ type: 'shows' }));
    await step('networks', () => trakt.networks());

    // Comments.
    await step('comments trending', () => trakt.comments.trending({ comment_type: 'reviews', type: 'movies' }));
    await step('comment get', () => trakt.comments.comment.get({ id: 417 }));
    await step('comment replies', () => trakt.comments.replies.get({ id: 417 }));
    await step('comment add', () => trakt.comments.comment.add({ movie, comment: 'A fine film, I watched it twice this week.', spoiler: false }));
    await step('comment like', () => trakt.comments.like.add({ id: 417 }));
    await step('comment unlike', () => trakt.comments.like.remove({ id: 417 }));

    // Scrobbling, as a player addon does: a movie, then an episode that starts at 0 %.
    await step('scrobble movie start', () => trakt.scrobble.start({ movie, progress: 1.5, app_version: '1.0.0' }));
    await step('scrobble movie pause', () => trakt.scrobble.pause({ movie, progress: 42.3 }));
    await step('scrobble movie stop', () => trakt.scrobble.stop({ movie, progress: 96.1 }));
    await step('scrobble episode start at 0', () => trakt.scrobble.start({ episode, progress: 0 }));
    await step('scrobble episode pause', () => trakt.scrobble.pause({ episode, progress: 33.3 }));
    await step('scrobble episode stop', () => trakt.scrobble.stop({ episode, progress: 90 }));
    await step('checkin episode', () => trakt.checkin.add({ episode, message: 'Watching' }));
    await step('checkin delete', () => trakt.checkin.delete());
    await step('checkin movie', () => trakt.checkin.add({ movie, sharing: { twitter: false } }));

    // The library.
    await step('last activities', () => trakt.sync.last_activities());
    await step('playback', () => trakt.sync.playback.get({ type: 'movies' }));
    await step('playback remove', () => trakt.sync.playback.remove({ id: 13 }));
    await step('collection get', () => trakt.sync.collection.get({ type: 'movies' }));
    await step('collection add', () => trakt.sync.collection.add({ movies: [movie] }));
    await step('collection remove', () => trakt.sync.collection.remove({ movies: [movie] }));
    await step('watched', () => trakt.sync.watched({ type: 'shows' }));
    await step('history get', () => trakt.sync.history.get({ type: 'movies', limit: 50 }));
    await step('history add', () => trakt.sync.history.add({ episodes: [Object.assign({ watched_at: '2026-11-01T20:00:00.000Z' }, episode)] }));
    await step('history remove', () => trakt.sync.history.remove({ ids: [1234] }));
    await step('ratings get', () => trakt.sync.ratings.get({ type: 'movies' }));
    await step('ratings add', () => trakt.sync.ratings.add({ movies: [Object.assign({ rating: 9 }, movie)] }));
    await step('ratings remove', () => trakt.sync.ratings.remove({ movies: [movie] }));
    await step('watchlist get', () => trakt.sync.watchlist.get({ type: 'movies' }));
    await step('watchlist add', () => trakt.sync.watchlist.add({ shows: [show] }));
    await step('watchlist remove', () => trakt.sync.watchlist.remove({ shows: [show] }));
    await step('personal recommendations get', () => trakt.sync.recommendations.get({ type: 'movies', sort: 'rank' }));
    await step('personal recommendations add', () => trakt.sync.recommendations.add({ movies: [movie] }));
    await step('recommendations movies', () => trakt.recommendations.movies.get({ limit: 10, ignore_collected: 'true' }));
    await step('recommendations hide', () => trakt.recommendations.movies.hide({ id: 'the-dark-knight-2008' }));

    // Users, lists, social.
    await step('settings', () => trakt.users.settings());
    await step('profile', () => trakt.users.profile({ username: 'sean', extended: 'full' }));
    await step('user watching', () => trakt.users.watching({ username: 'sean' }));
    await step('user stats', () => trakt.users.stats({ username: 'sean' }));
    await step('user history', () => trakt.users.history({ username: 'sean', type: 'episodes' }));
    await step('user ratings', () => trakt.users.ratings({ username: 'sean', type: 'movies', rating: 9 }));
    await step('user watchlist', () => trakt.users.watchlist({ username: 'sean', type: 'shows' }));
    await step('user collection', () => trakt.users.collection({ username: 'sean', type: 'movies' }));
    await step('user watched', () => trakt.users.watched({ username: 'sean', type: 'movies' }));
    await step('user recommendations', () => trakt.users.recommendations({ username: 'sean', type: 'movies', sort: 'rank' }));
    await step('user followers', () => trakt.users.followers({ username: 'sean' }));
    await step('user following', () => trakt.users.following({ username: 'sean' }));
    await step('user friends', () => trakt.users.friends({ username: 'sean' }));
    await step('user follow', () => trakt.users.follow.add({ username: 'another-user' }));
    await step('user unfollow', () => trakt.users.follow.remove({ username: 'another-user' }));
    await step('user comments', () => trakt.users.comments({ username: 'sean', comment_type: 'reviews', type: 'movies' }));
    await step('user lists', () => trakt.users.lists.get({ username: 'sean' }));
    await step('list create', () => trakt.users.lists.create({ username: 'sean', name: 'Favourites', privacy: 'private' }));
    await step('list get', () => trakt.users.list.get({ username: 'sean', id: 'favourites' }));
    await step('list update', () => trakt.users.list.update({ username: 'sean', id: 'favourites', description: 'made by the test' }));
    await step('list items', () => trakt.users.list.items.get({ username: 'sean', id: 'favourites', type: 'movie' }));
    await step('list items add', () => trakt.users.list.items.add({ username: 'sean', id: 'favourites', movies: [movie] }));
    await step('list items remove', () => trakt.users.list.items.remove({ username: 'sean', id: 'favourites', movies: [movie] }));
    await step('list like', () => trakt.users.list.like.add({ username: 'sean', id: 'favourites' }));
    await step('list likes', () => trakt.users.list.likes({ username: 'sean', id: 'favourites' }));
    await step('list delete', () => trakt.users.list.delete({ username: 'sean', id: 'favourites' }));
    await step('lists trending', () => trakt.lists.trending());
    await step('hidden get', () => trakt.users.hidden.get({ section: 'progress_watched', type: 'show' }));
    await step('hidden add', () => trakt.users.hidden.add({ section: 'progress_watched', shows: [show] }));

    await step('refresh token', () => trakt.refresh_token());
    trakt.revoke_token();
    // revoke_token does not return its promise: give it time to finish.
    await new Promise((resolve) => setTimeout(resolve, 500));

    console.log(JSON.stringify({ steps: steps.length, failed }));
}

main().catch((e) => {
    console.error(e);
    console.log(JSON.stringify({ steps: steps.length, failed, aborted: true }));
    process.exit(1);
});
