/** The dashboard's views live in the URL's hash, so a reload or a shared link opens the same view. */
import { useEffect, useState } from 'preact/hooks';

export type Route = { readonly view: 'overview' } | { readonly view: 'channels'; readonly channel?: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, '');
  if (path === 'channels' || path === 'channels/') return { view: 'channels' };
  if (path.startsWith('channels/')) {
    try {
      return { view: 'channels', channel: decodeURIComponent(path.slice('channels/'.length)) };
    } catch {
      return { view: 'channels' };
    }
  }
  return { view: 'overview' };
}

export function channelHref(channel: string): string {
  return `#/channels/${encodeURIComponent(channel)}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
