//! The configured route table: a path prefix → a downstream service. The longest matching
//! prefix wins, and a prefix matches whole path segments only (`/api/work` matches
//! `/api/work` and `/api/work/x`, never `/api/workers`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::proxy::Upstream;

/// One `[[gateway_routes]]` entry of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// A path under `/api`, without a trailing slash.
    pub prefix: String,
    /// `http://host:port` of the service (requests keep their path).
    pub upstream: Url,
    /// Served without credentials (health probes). Nothing identifying is injected.
    #[serde(default)]
    pub public: bool,
    /// Scopes every caller must hold (all of them).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Seconds to wait for the response head (defaults to the gateway's timeout).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// The route's resource identifier (RFC 8707): an absolute URI without a fragment that
    /// clients name to get tokens for this route alone. A route with one accepts only access
    /// tokens issued for it, and publishes its metadata (RFC 9728).
    #[serde(default)]
    pub resource: Option<Url>,
}

impl Route {
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout_secs.map(Duration::from_secs)
    }
}

#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// Longest prefix first, so the first match is the answer; each with its upstream parsed
    /// once, here, rather than per request.
    routes: Vec<(Route, Upstream)>,
}

impl RouteTable {
    /// Checks every route and orders them for lookup.
    pub fn new(routes: &[Route]) -> Result<Self, String> {
        let mut routes = routes.to_vec();
        for route in &routes {
            let prefix = &route.prefix;
            if !(prefix == "/api" || prefix.starts_with("/api/"))
                || prefix.ends_with('/')
                || prefix.contains("//")
            {
                return Err(format!(
                    "gateway route {prefix:?}: a prefix is /api or a path under it, without a trailing slash"
                ));
            }
            if route.upstream.scheme() != "http"
                || route.upstream.host().is_none()
                || route.upstream.path() != "/"
                || route.upstream.query().is_some()
            {
                return Err(format!(
                    "gateway route {prefix:?}: upstream must be http://host:port with no path"
                ));
            }
            if let Some(resource) = &route.resource
                && (route.public || resource.fragment().is_some() || resource.cannot_be_a_base())
            {
                return Err(format!(
                    "gateway route {prefix:?}: a resource is an absolute URI without a fragment, on a route that is not public"
                ));
            }
            if route.timeout_secs == Some(0) {
                return Err(format!(
                    "gateway route {prefix:?}: timeout_secs must be > 0"
                ));
            }
        }
        routes.sort_by_key(|route| std::cmp::Reverse(route.prefix.len()));
        if let Some(pair) = routes.windows(2).find(|w| w[0].prefix == w[1].prefix) {
            return Err(format!(
                "gateway route {:?} is listed twice",
                pair[0].prefix
            ));
        }
        let routes: Vec<(Route, Upstream)> = routes
            .into_iter()
            .map(|route| {
                let upstream = Upstream::parse(&route.upstream)
                    .map_err(|e| format!("gateway route {:?}: {e}", route.prefix))?;
                Ok((route, upstream))
            })
            .collect::<Result<_, String>>()?;
        if let Some(pair) = routes.iter().enumerate().find_map(|(i, (a, _))| {
            let resource = a.resource.as_ref()?;
            routes[i + 1..]
                .iter()
                .any(|(b, _)| b.resource.as_ref() == Some(resource))
                .then_some(resource)
        }) {
            return Err(format!(
                "gateway resource {:?} is declared by two routes",
                pair.as_str()
            ));
        }
        Ok(Self { routes })
    }

    /// The routes that declare a resource identifier.
    pub fn resources(&self) -> impl Iterator<Item = (&Route, &Url)> {
        self.routes
            .iter()
            .filter_map(|(route, _)| Some((route, route.resource.as_ref()?)))
    }

    /// The route serving `path`, if any, and its upstream.
    pub fn find(&self, path: &str) -> Option<(&Route, &Upstream)> {
        self.routes
            .iter()
            .find(|(route, _)| {
                path.strip_prefix(route.prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map(|(route, upstream)| (route, upstream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(prefix: &str, port: u16) -> Route {
        Route {
            prefix: prefix.to_owned(),
            upstream: format!("http://127.0.0.1:{port}").parse().unwrap(),
            public: false,
            scopes: Vec::new(),
            timeout_secs: None,
            resource: None,
        }
    }

    #[test]
    fn the_longest_prefix_wins_on_segment_boundaries() {
        let table = RouteTable::new(&[
            route("/api", 1),
            route("/api/work", 2),
            route("/api/work/x", 3),
        ])
        .unwrap();
        let port = |path| table.find(path).and_then(|(r, _)| r.upstream.port());
        assert_eq!(port("/api/work"), Some(2));
        assert_eq!(port("/api/work/y"), Some(2));
        assert_eq!(port("/api/work/x/1"), Some(3));
        assert_eq!(port("/api/workers"), Some(1));
        assert_eq!(port("/apix"), None);
    }

    #[test]
    fn bad_routes_are_refused() {
        assert!(RouteTable::new(&[route("/other", 1)]).is_err());
        assert!(RouteTable::new(&[route("/api/x/", 1)]).is_err());
        assert!(RouteTable::new(&[route("/api/x", 1), route("/api/x", 2)]).is_err());
        let mut with_path = route("/api/x", 1);
        with_path.upstream = "http://127.0.0.1:1/base".parse().unwrap();
        assert!(RouteTable::new(&[with_path]).is_err());
        let mut with_fragment = route("/api/x", 1);
        with_fragment.resource = Some("https://mcp.example/#f".parse().unwrap());
        assert!(RouteTable::new(&[with_fragment]).is_err());
        let mut public = route("/api/x", 1);
        public.public = true;
        public.resource = Some("https://mcp.example/".parse().unwrap());
        assert!(RouteTable::new(&[public]).is_err());
        let mut a = route("/api/a", 1);
        let mut b = route("/api/b", 1);
        a.resource = Some("https://mcp.example/".parse().unwrap());
        b.resource = a.resource.clone();
        assert!(RouteTable::new(&[a.clone(), b]).is_err());
        assert_eq!(RouteTable::new(&[a]).unwrap().resources().count(), 1);
    }
}
