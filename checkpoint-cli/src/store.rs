//! Where the checkpoints are: a directory, or `s3://bucket/prefix` on an
//! S3-compatible object store.

use std::ffi::OsStr;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use checkpoint_core::store::ObjectStore;
use checkpoint_core::{DirStore, Error, Store, StoreError};
use object_store::aws::AmazonS3Builder;
use object_store::{BackoffConfig, RetryConfig};

use crate::Failure;

/// An opened store and how the user named it.
pub struct Opened {
    pub store: Arc<dyn Store>,
    /// The argument as given: the directory's path or the URL.
    pub name: String,
    is_dir: bool,
}

impl Opened {
    /// Opens what `arg` names: a URL (`s3://...`) unless a directory has
    /// that name, or else a directory, which must exist (nothing is
    /// created).
    pub fn open(arg: &OsStr, endpoint: Option<&str>) -> Result<Self, Failure> {
        if let Some(url) = arg.to_str().filter(|a| a.contains("://")) {
            if !Path::new(url).is_dir() {
                return open_s3(url, endpoint);
            }
        }
        let dir = Path::new(arg);
        let name = dir.display().to_string();
        let store = DirStore::open_existing(dir).map_err(|e| match e {
            StoreError::Io { source, .. } => {
                Failure(format!("cannot read directory {name}: {source}"))
            }
            e => Failure(format!("cannot read directory {name}: {e}")),
        })?;
        Ok(Opened {
            store: Arc::new(store),
            name,
            is_dir: true,
        })
    }

    /// The checkpoints, oldest first, with their keys.
    pub fn checkpoints(&self) -> Result<Vec<(u64, String)>, Failure> {
        checkpoint_core::inspect::checkpoints(&*self.store).map_err(|e| match e {
            Error::Store(e) => self.unlisted(e),
            e => Failure(format!("cannot list {}: {e}", self.name)),
        })
    }

    /// The failure of a listing, said as for the kind of store.
    pub fn unlisted(&self, e: StoreError) -> Failure {
        match e {
            StoreError::Io { source, .. } if self.is_dir => {
                Failure(format!("cannot read directory {}: {source}", self.name))
            }
            e if !self.is_dir => Failure(format!("cannot list {}: {}", self.name, s3_reason(&e))),
            e => Failure(format!("cannot list {}: {e}", self.name)),
        }
    }
}

/// What an S3 server's error says, on one line: its code and message when
/// the error carries the server's XML answer, with what to do for the
/// usual ones; otherwise the error itself.
fn s3_reason(e: &StoreError) -> String {
    let text = match e {
        StoreError::Io { source, .. } => source.to_string(),
        e => e.to_string(),
    };
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let len = text[start..].find(&format!("</{name}>"))?;
        Some(text[start..start + len].to_owned())
    };
    let Some(code) = element("Code") else {
        return text.split_whitespace().collect::<Vec<_>>().join(" ");
    };
    let message = element("Message").unwrap_or_default();
    let advice = match code.as_str() {
        "NoSuchBucket" => "; check the bucket's name and the endpoint",
        "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied" => {
            "; check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        }
        _ => "",
    };
    format!("{code}: {message}{advice}")
}

/// The usual environment variables of AWS's tools (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
/// `AWS_ENDPOINT_URL`, ...) configure the client; `--endpoint` overrides
/// the endpoint. Plain `http://` is allowed to a loopback endpoint.
fn open_s3(url: &str, endpoint: Option<&str>) -> Result<Opened, Failure> {
    let Some(rest) = url.strip_prefix("s3://") else {
        return Err(Failure(format!(
            "`{url}` is neither a directory nor an `s3://BUCKET/PREFIX` URL"
        )));
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Failure(format!(
            "`{url}` names no bucket: write `s3://BUCKET` or `s3://BUCKET/PREFIX`"
        )));
    }
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    let endpoint = endpoint
        .map(str::to_owned)
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
        .or_else(|| std::env::var("AWS_ENDPOINT").ok());
    if let Some(endpoint) = &endpoint {
        if let Some(host) = endpoint.strip_prefix("http://") {
            if is_loopback(host) {
                builder = builder.with_allow_http(true);
            } else if std::env::var("AWS_ALLOW_HTTP").as_deref() != Ok("true") {
                return Err(Failure(format!(
                    "the endpoint `{endpoint}` is plain http to another machine: use https, \
                     or set AWS_ALLOW_HTTP=true to send requests and credentials unencrypted"
                )));
            }
        }
    }
    // A server that is down makes the command fail within seconds, not hang.
    builder = builder.with_retry(RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
            base: 2.0,
        },
        max_retries: 3,
        retry_timeout: Duration::from_secs(10),
    });
    let s3 = builder
        .build()
        .map_err(|e| Failure(format!("cannot use {url}: {e}")))?;
    let store = ObjectStore::from_object_store(Arc::new(s3), prefix)
        .map_err(|e| Failure(format!("cannot use {url}: {e}")))?
        .described_as(&format!("s3://{bucket}"));
    Ok(Opened {
        store: Arc::new(store),
        name: url.to_owned(),
        is_dir: false,
    })
}

/// Whether `authority` (`host[:port][/...]`) names this machine.
fn is_loopback(authority: &str) -> bool {
    let host_port = authority.split('/').next().unwrap_or_default();
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn loopback_hosts_are_told_apart() {
        for host in ["127.0.0.1:8333", "localhost", "[::1]:9000/", "127.1.2.3"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "10.0.0.1:8333",
            "example.com",
            "[::2]",
            "127.0.0.1.example.com",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }
}
