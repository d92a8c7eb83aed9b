//! Connections to one Redis server or to a Redis Cluster, behind one type.
//!
//! Every key of a namespace carries the hash tag `{namespace}`, so all of them live in one
//! slot: the Lua scripts, pipelines and multi-key commands work unchanged on a cluster,
//! whose client routes each to the primary holding that slot. Pub/sub needs no routing
//! (a cluster forwards every `PUBLISH` to every node), so the subscriber connects to the
//! first node given.

use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// A pool of connections to one server or to a cluster.
pub(crate) enum Pool {
    /// One server (or a proxy that looks like one).
    Single(deadpool_redis::Pool),
    /// A Redis Cluster, discovered from its seed nodes.
    Cluster(deadpool_redis::cluster::Pool),
}

/// One pooled connection of either kind.
pub(crate) enum Connection {
    /// To one server.
    Single(deadpool_redis::Connection),
    /// To a cluster.
    Cluster(deadpool_redis::cluster::Connection),
}

impl Pool {
    /// A pool for `urls`: one URL for one server, one or more seed nodes for a cluster.
    pub(crate) fn new(urls: &[String], cluster: bool, timeout: Duration) -> Result<Self, String> {
        let timeouts = deadpool_redis::Timeouts {
            wait: Some(timeout),
            create: Some(timeout),
            recycle: Some(timeout),
        };
        let pool_config = deadpool_redis::PoolConfig {
            max_size: 8,
            timeouts,
            ..deadpool_redis::PoolConfig::default()
        };
        let runtime = Some(deadpool_redis::Runtime::Tokio1);
        if cluster {
            let mut config = deadpool_redis::cluster::Config::from_urls(urls.to_vec());
            config.pool = Some(pool_config);
            return config
                .create_pool(runtime)
                .map(Self::Cluster)
                .map_err(|e| e.to_string());
        }
        let [url] = urls else {
            return Err(
                "a single server takes one URL (set `redis_cluster` for several nodes)".to_owned(),
            );
        };
        let mut config = deadpool_redis::Config::from_url(url.as_str());
        config.pool = Some(pool_config);
        config
            .create_pool(runtime)
            .map(Self::Single)
            .map_err(|e| e.to_string())
    }

    /// A connection from the pool.
    pub(crate) async fn get(&self) -> Result<Connection, String> {
        match self {
            Self::Single(pool) => pool
                .get()
                .await
                .map(Connection::Single)
                .map_err(|e| e.to_string()),
            Self::Cluster(pool) => pool
                .get()
                .await
                .map(Connection::Cluster)
                .map_err(|e| e.to_string()),
        }
    }
}

impl Connection {
    /// Runs `command` on the node that holds `key`'s slot (on one server: runs it).
    /// For keyless commands that must see that node's keys, such as `SCAN`.
    pub(crate) async fn on_node_of(
        &mut self,
        key: &str,
        command: &Cmd,
    ) -> redis::RedisResult<Value> {
        match self {
            Self::Single(connection) => command.query_async(connection).await,
            Self::Cluster(connection) => {
                let slot: u16 = redis::cmd("CLUSTER")
                    .arg("KEYSLOT")
                    .arg(key)
                    .query_async(&mut **connection)
                    .await?;
                let route = redis::cluster_routing::Route::new(slot, SlotAddr::Master);
                connection
                    .route_command(
                        command.clone(),
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                    )
                    .await
            }
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}
