//! A SigV4 verifier written from AWS's published algorithm (the canonical request, the string
//! to sign, the derived key), independent of the aws-sigv4 crate the backend signs with, and
//! checked against AWS's own test vector.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::helpers::hex;

/// What a valid signature's credential scope names.
#[derive(Debug, PartialEq, Eq)]
pub struct Scope {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding of everything but the unreserved characters, as SigV4 writes paths.
fn uri_encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Checks the request's `Authorization` against a signature recomputed with `secret`, and
/// returns the scope it names. `path` is the path as received; requests without a query.
pub fn verify(
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    secret: &str,
) -> Result<Scope, String> {
    let authorization = headers
        .get("authorization")
        .ok_or("no Authorization header")?
        .to_str()
        .map_err(|error| error.to_string())?;
    let fields = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| format!("not AWS4-HMAC-SHA256: {authorization}"))?;
    let field = |name: &str| {
        fields
            .split(", ")
            .find_map(|field| field.strip_prefix(name)?.strip_prefix('='))
            .ok_or_else(|| format!("no {name} in {authorization}"))
    };
    let credential: Vec<&str> = field("Credential")?.split('/').collect();
    let [access_key_id, date, region, service, "aws4_request"] = credential[..] else {
        return Err(format!("a malformed credential scope: {credential:?}"));
    };
    let signed_headers: Vec<String> = field("SignedHeaders")?
        .split(';')
        .map(str::to_owned)
        .collect();
    let amz_date = headers
        .get("x-amz-date")
        .ok_or("no X-Amz-Date")?
        .to_str()
        .map_err(|error| error.to_string())?;
    if !amz_date.starts_with(date) {
        return Err(format!(
            "X-Amz-Date {amz_date} is not the scope's day {date}"
        ));
    }
    let canonical_headers: String = signed_headers
        .iter()
        .map(|name| {
            let values: Vec<String> = headers
                .get_all(name.as_str())
                .iter()
                .map(|value| {
                    let value = value.to_str().unwrap_or_default();
                    value.split_whitespace().collect::<Vec<_>>().join(" ")
                })
                .collect();
            format!("{name}:{}\n", values.join(","))
        })
        .collect();
    let canonical_path = path
        .split('/')
        .map(uri_encode)
        .collect::<Vec<_>>()
        .join("/");
    let canonical_request = format!(
        "{method}\n{canonical_path}\n\n{canonical_headers}\n{}\n{}",
        signed_headers.join(";"),
        hex(&Sha256::digest(body))
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let key = [date, region, service, "aws4_request"]
        .iter()
        .fold(format!("AWS4{secret}").into_bytes(), |key, part| {
            hmac(&key, part)
        });
    let expected = hex(&hmac(&key, &string_to_sign));
    let signature = field("Signature")?;
    if signature != expected {
        return Err(format!(
            "the signature does not verify; canonical request:\n{canonical_request}"
        ));
    }
    Ok(Scope {
        access_key_id: access_key_id.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers,
    })
}

#[test]
fn the_verifier_accepts_aws_get_vanilla_test_vector_and_nothing_else() {
    // AWS's SigV4 test suite, "get-vanilla".
    let mut headers = HeaderMap::new();
    headers.insert("host", "example.amazonaws.com".parse().unwrap());
    headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
    headers.insert(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders=host;x-amz-date, \
         Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
            .parse()
            .unwrap(),
    );
    let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    let scope = verify("GET", "/", &headers, b"", secret).unwrap();
    assert_eq!(
        scope,
        Scope {
            access_key_id: "AKIDEXAMPLE".into(),
            date: "20150830".into(),
            region: "us-east-1".into(),
            service: "service".into(),
            signed_headers: vec!["host".into(), "x-amz-date".into()],
        }
    );
    assert!(verify("GET", "/", &headers, b"", "another secret").is_err());
    assert!(verify("POST", "/", &headers, b"", secret).is_err());
    assert!(verify("GET", "/", &headers, b"a body", secret).is_err());
}
