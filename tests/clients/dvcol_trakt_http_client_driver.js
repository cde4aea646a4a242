// Drives npm `@dvcol/trakt-http-client` (the fetch-based client of the
// "Trakt extension" browser add-on) for tests/clients.rs, as that add-on
// uses it: device login, a web login's code exchange, an expired token
// refreshed on import, the user's settings, activities, history, watchlist,
// playback and watched reads, scrobbles of a movie and an episode, a
// checkin, history/watchlist/ratings writes, then the logout's revoke.
//
// The library calls the global fetch, which Node 20 sends directly; undici's
// ProxyAgent as the global dispatcher routes it through trakt-doctor
// (TRAKT_DOCTOR_PROXY), and NODE_EXTRA_CA_CERTS trusts its CA. Every call
// goes to api.trakt.tv, which the proxy sends to a loopback fake. Ids and
// tokens are made up. Prints one JSON line: the steps run and those that threw.
'use strict';

const { ProxyAgent, setGlobalDispatcher } = require('undici');

setGlobalDispatcher(new ProxyAgent(process.env.TRAKT_DOCTOR_PROXY));

const { TraktClient } = require('@dvcol/trakt-http-client');
const { traktApi } = require('@dvcol/trakt-http-client/api');
const { Config } = require('@dvcol/trakt-http-client/config');

const steps = [];
const failed = [];

async function step(name, call) {
    steps.push(name);
    try {
        const result = await call();
        if (result && typeof result.status === 'number' && result.status >= 300) {
            failed.push({ step: name, error: `HTTP ${result.status}` });
        }
        return result;
    } catch (e) {
        failed.push({ step: name, error: String((e && e.message) || e) });
        return undefined;
    }
}

const movie = { ids: { trakt: 120, slug: 'the-dark-knight-2008', imdb: 'tt0468569', tmdb: 155 } };
const show = { ids: { trakt: 1388, slug: 'breaking-bad', tvdb: 81189, imdb: 'tt0903747', tmdb: 1396 } };
const episode = { ids: { trakt: 62085, tvdb: 349232, imdb: 'tt0959621', tmdb: 62085 } };

async function main() {
    const client = new TraktClient({
        client_id: 'd5c01e11' + '0'.repeat(56),
        client_secret: '7'.repeat(64),
        redirect_uri: 'https://extension.example/redirect',
        endpoint: Config.Endpoint.Production,
        useragent: 'trakt-doctor-client-tests/1.0 (@dvcol/trakt-http-client)',
    }, {}, traktApi);

    // Device login: the code, then polling at the interval Trakt gave.
    const poll = await step('device code', () => client.getDeviceCode());
    if (poll) await step('device token', () => client.pollWithDeviceCode(poll));
    // A web login: the authorize URL holds the CSRF state the exchange checks.
    const url = new URL(client.redirectToAuthenticationUrl());
    await step('exchange code', () => client.exchangeCodeForToken('fake-authorization-code', url.searchParams.get('state')));
    // The token saved from an earlier session has expired: importing it refreshes it.
    await step('import expired token', () => client.importAuthentication({
        access_token: 'fake-expired-access-token',
        refresh_token: 'fake-refresh-token-for-tests',
        expires: Date.now() - 60 * 1000,
    }));

    // What the add-on reads on start.
    await step('user settings', () => client.users.settings());
    await step('last activities', () => client.sync.lastActivities());
    await step('history movies', () => client.sync.history.get({ type: 'movies', page: 1, limit: 30, extended: 'full' }));
    await step('history episodes range', () => client.sync.history.get({
        type: 'episodes', start_at: '2026-11-01T00:00:00.000Z', end_at: '2026-11-30T00:00:00.000Z', page: 1, limit: 30,
    }));
    await step('watchlist movies', () => client.sync.watchlist.get({ type: 'movies', sort: 'rank' }));
    await step('user watchlist shows', () => client.users.watchlist.get({ id: 'me', type: 'shows', sort: 'added' }));
    await step('playback', () => client.sync.playback.get({ type: 'movies' }));
    await step('watched shows', () => client.sync.watched({ type: 'shows', extended: 'noseasons' }));
    await step('show progress', () => client.shows.progress.watched({ id: 'breaking-bad', hidden: false, specials: false }));
    await step('search', () => client.search.text({ type: 'movie', query: 'The Dark Knight' }));

    // Playing a movie, then an episode: start, pause, resume, stop.
    await step('scrobble movie start', () => client.scrobble.start({ movie, progress: 1.25 }));
    await step('scrobble movie pause', () => client.scrobble.pause({ movie, progress: 40.5 }));
    await step('scrobble movie resume', () => client.scrobble.start({ movie, progress: 40.5 }));
    await step('scrobble movie stop', () => client.scrobble.stop({ movie, progress: 97.2 }));
    await step('scrobble episode start', () => client.scrobble.start({ episode, progress: 2 }));
    await step('scrobble episode stop', () => client.scrobble.stop({
        show, episode: { season: 1, number: 1 }, progress: 91,
    }));
    await step('checkin', () => client.checkin.add({ movie, message: 'Watching The Dark Knight' }));
    await step('checkin delete', () => client.checkin.delete());

    // Writes from the add-on's buttons.
    await step('history add', () => client.sync.history.add({
        movies: [{ ...movie, watched_at: '2026-11-20T21:30:00.000Z' }],
        episodes: [{ ...episode, watched_at: '2026-11-21T20:00:00.000Z' }],
    }));
    await step('history remove', () => client.sync.history.remove({ ids: [1234567890] }));
    await step('watchlist add', () => client.sync.watchlist.add({ shows: [show] }));
    await step('watchlist remove', () => client.sync.watchlist.remove({ shows: [show] }));
    await step('ratings add', () => client.sync.ratings.add({ movies: [{ ...movie, rating: 9, rated_at: '2026-11-20T23:00:00.000Z' }] }));

    // Logout: the token is revoked while it is still valid.
    await step('revoke', () => client.revokeAuthentication());

    console.log(JSON.stringify({ steps: steps.length, failed }));
}

main().catch((e) => {
    console.error(e);
    console.log(JSON.stringify({ steps: steps.length, failed, aborted: true }));
    process.exit(1);
});
