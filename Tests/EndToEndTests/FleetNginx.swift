/// The nginx configuration of the fleet test: the origin's `Cache-Control` headers and the caching proxy in front
/// of it. docs/MIRROR.md "Behind a cache" shows the same configuration; keep the two in step.
enum FleetNginx {
    /// The access log: what the tests count (`$request_uri $status $body_bytes_sent`).
    static let logFormat = "$request_uri $status $body_bytes_sent"

    /// The origin (a static server of the mirror directory): immutable names may be kept forever, `refs` and
    /// `refs.sig` must be revalidated (docs/MIRROR.md).
    static let originHeaders = """
        add_header Cache-Control "public, max-age=31536000, immutable";
        location ~ ^/refs(\\.sig)?$ { add_header Cache-Control "no-cache"; }
        """

    /// Inside `http { }`: the cache's storage.
    static func cacheHTTP(directory: String) -> String {
        """
        proxy_cache_path \(directory) levels=1:2 keys_zone=mirror:10m max_size=10g inactive=365d use_temp_path=off;
        """
    }

    /// Inside `server { }`: `/mirror/` proxies the origin `host:port` through the cache. Every name but `refs` and
    /// `refs.sig` is cached for a year, and concurrent misses of one name wait for the one request that fills it
    /// (`proxy_cache_lock`, long enough for a pack on a slow uplink); `refs` and `refs.sig` are passed through.
    static func cacheLocations(origin: String) -> String {
        """
        location /mirror/ {
            proxy_pass http://\(origin)/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache mirror;
            proxy_cache_key $uri;
            proxy_cache_valid 200 365d;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 10m;
            proxy_cache_lock_age 10m;
            proxy_cache_use_stale error timeout updating;
            add_header X-Cache-Status $upstream_cache_status;
        }
        location = /mirror/refs { proxy_pass http://\(origin)/refs; proxy_cache off; }
        location = /mirror/refs.sig { proxy_pass http://\(origin)/refs.sig; proxy_cache off; }
        """
    }
}
