//! Where `llm-rotate serve`'s logs and spans go: log lines at `info` to stderr, and with
//! the `otel` feature the engine's call and attempt spans (their GenAI attributes, never
//! message content) over OTLP/HTTP to `gateway.otel_endpoint`, a collector's base URL
//! (`/v1/traces` is added), or when that is unset to where
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` say. Spans are
//! batched and sent off the request path by the SDK's batch processor (the standard
//! `OTEL_BSP_*` variables tune it), through llm-rotate's own HTTP client on the
//! gateway's runtime.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Keeps the exporter running; dropping it flushes what is pending.
pub struct Telemetry {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(provider) = self.provider.take() {
            if let Err(error) = provider.shutdown() {
                eprintln!("warning: the last spans could not be exported: {error}");
            }
        }
    }
}

/// Whether spans are to be exported: an endpoint in the config or the environment.
fn wanted(endpoint: Option<&str>) -> bool {
    endpoint.is_some()
        || [
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
        ]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()))
}

/// Installs the global subscriber: logs, and the OTLP exporter when `endpoint` (or the
/// environment) names a collector.
pub fn init(endpoint: Option<&str>) -> Result<Telemetry, String> {
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    let registry = tracing_subscriber::registry().with(logs);
    if !wanted(endpoint) {
        let _ = registry.try_init();
        return Ok(Telemetry {
            #[cfg(feature = "otel")]
            provider: None,
        });
    }
    #[cfg(feature = "otel")]
    {
        let (provider, spans) = otlp::layer(endpoint)?;
        let _ = registry.with(spans).try_init();
        Ok(Telemetry {
            provider: Some(provider),
        })
    }
    #[cfg(not(feature = "otel"))]
    match endpoint {
        Some(_) => Err(
            "gateway.otel_endpoint: this llm-rotate was built without the `otel` feature"
                .to_owned(),
        ),
        None => {
            let _ = registry.try_init();
            tracing::warn!("OTEL_EXPORTER_OTLP_ENDPOINT is set, but this llm-rotate was built without the `otel` feature; no spans are exported");
            Ok(Telemetry {})
        }
    }
}

#[cfg(feature = "otel")]
mod otlp {
    use bytes::Bytes;
    use http::{Request, Response};
    use http_body_util::Full;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use opentelemetry_sdk::Resource;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::Layer;

    /// How long one export may take.
    const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

    /// llm-rotate's HTTP client (rustls, pooled), run on the gateway's runtime: the
    /// batch processor's own thread has none.
    #[derive(Debug)]
    struct Client {
        http: llm_rotate::HttpClient,
        runtime: tokio::runtime::Handle,
    }

    #[async_trait::async_trait]
    impl opentelemetry_http::HttpClient for Client {
        async fn send_bytes(
            &self,
            request: Request<Bytes>,
        ) -> Result<Response<Bytes>, opentelemetry_http::HttpError> {
            let http = self.http.clone();
            let (parts, body) = request.into_parts();
            let request = Request::from_parts(parts, Full::new(body));
            let sent = self
                .runtime
                .spawn(async move { http.exchange(request, EXPORT_TIMEOUT).await });
            let (parts, body) = sent.await??;
            Ok(Response::from_parts(parts, body))
        }
    }

    /// The span exporter and the layer feeding it the engine's spans (debug level,
    /// `rotate_core`) and the gateway's own at info.
    pub fn layer<S>(endpoint: Option<&str>) -> Result<(SdkTracerProvider, impl Layer<S>), String>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let client = Client {
            http: llm_rotate::HttpClient::default(),
            runtime: tokio::runtime::Handle::try_current()
                .map_err(|_| "the OTLP exporter needs the gateway's runtime".to_owned())?,
        };
        let mut builder = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_timeout(EXPORT_TIMEOUT);
        if let Some(endpoint) = endpoint {
            builder =
                builder.with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')));
        }
        let exporter = builder
            .build()
            .map_err(|e| format!("gateway.otel_endpoint: {e}"))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name("llm-rotate").build())
            .build();
        let tracer = provider.tracer("llm-rotate");
        // the spans' own attributes only: no source location, thread, target or busy
        // and idle times, and no context switched on every poll of a call's future
        let spans = tracing_opentelemetry::layer()
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .with_context_activation(false)
            .with_tracer(tracer)
            .with_filter(
                Targets::new()
                    .with_target("rotate_core", tracing::Level::DEBUG)
                    .with_default(tracing::Level::INFO),
            );
        Ok((provider, spans))
    }
}
