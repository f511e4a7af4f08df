//! Response compression as Go's `http_api.CompressHandler` (v1.3.0), for every nsqadmin
//! response: the request's `Accept-Encoding` is split on commas, entries trimmed and
//! compared exactly (`gzip;q=0.8` is not recognised), the first `gzip` or `deflate` wins;
//! the body is compressed (raw DEFLATE for `deflate`, as Go's `compress/flate`),
//! `Content-Encoding` set, `Vary: Accept-Encoding` added and `Content-Length` dropped.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flate2::write::{DeflateEncoder, GzEncoder};
use flate2::Compression;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Deflate,
}

/// The encoding Go would pick for this `Accept-Encoding` value.
pub fn negotiate(accept: &str) -> Option<Encoding> {
    accept.split(',').find_map(|e| match e.trim() {
        "gzip" => Some(Encoding::Gzip),
        "deflate" => Some(Encoding::Deflate),
        _ => None,
    })
}

/// Compresses `body`.
pub fn encode(encoding: Encoding, body: &[u8]) -> std::io::Result<Vec<u8>> {
    match encoding {
        Encoding::Gzip => {
            let mut w = GzEncoder::new(Vec::new(), Compression::default());
            w.write_all(body)?;
            w.finish()
        }
        Encoding::Deflate => {
            let mut w = DeflateEncoder::new(Vec::new(), Compression::default());
            w.write_all(body)?;
            w.finish()
        }
    }
}

/// The middleware.
pub async fn layer(request: Request, next: Next) -> Response {
    let encoding = request
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .and_then(negotiate);
    let response = next.run(request).await;
    let Some(encoding) = encoding else {
        return response;
    };
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => return httpapi::error::ApiError::internal().into_response(),
    };
    let compressed = match encode(encoding, &bytes) {
        Ok(c) => c,
        Err(_) => return httpapi::error::ApiError::internal().into_response(),
    };
    if !bytes.is_empty() && !parts.headers.contains_key(header::CONTENT_TYPE) {
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(match encoding {
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }),
    );
    parts
        .headers
        .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    Response::from_parts(parts, Body::from(compressed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn negotiates_like_go() {
        assert_eq!(negotiate("gzip"), Some(Encoding::Gzip));
        assert_eq!(negotiate("br, deflate, gzip"), Some(Encoding::Deflate));
        assert_eq!(negotiate(" gzip ,deflate"), Some(Encoding::Gzip));
        assert_eq!(negotiate("gzip;q=0.8"), None);
        assert_eq!(negotiate("gzip;q=0.8, deflate"), Some(Encoding::Deflate));
        assert_eq!(negotiate(""), None);
        assert_eq!(negotiate("identity"), None);
    }

    #[test]
    fn round_trips() {
        let body = b"{\"message\":\"\"}";
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&encode(Encoding::Gzip, body).expect("gzip")[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        assert_eq!(out, body);
        out.clear();
        flate2::read::DeflateDecoder::new(&encode(Encoding::Deflate, body).expect("deflate")[..])
            .read_to_end(&mut out)
            .expect("inflate");
        assert_eq!(out, body);
    }
}
