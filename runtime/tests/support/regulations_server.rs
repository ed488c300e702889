//! The regulations APIs' contracts, for [`Stub`]: Segment's Public API (`POST /regulations`)
//! and RudderStack's data regulation API (`POST /v2/regulations`), as their documentation
//! describes them. Each records the regulations it created.

use super::stub::{Contract, Fault, Reply, Request, Stub};
use serde_json::{Value, json};
use std::sync::Mutex;

/// One regulation created.
#[derive(Debug, Clone)]
pub struct Regulation {
    /// `segment` or `rudderstack`.
    pub api: &'static str,
    /// The id returned.
    pub id: String,
    /// The user ids it covers.
    pub user_ids: Vec<String>,
    /// The whole request body.
    pub body: Value,
}

/// Both APIs on one server: the Segment workspace token and the RudderStack access token.
pub struct Regulations {
    pub segment_token: String,
    pub rudder_token: String,
    created: Mutex<Vec<Regulation>>,
}

impl Regulations {
    pub fn created(&self) -> Vec<Regulation> {
        self.created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A stand-in for both regulations APIs.
pub fn start(segment_token: &str, rudder_token: &str) -> Stub<Regulations> {
    Stub::start(Regulations {
        segment_token: segment_token.into(),
        rudder_token: rudder_token.into(),
        created: Mutex::new(Vec::new()),
    })
}

impl Contract for Regulations {
    fn answer(
        &self,
        request: &Request,
        _fault: Option<&Fault>,
        violations: &mut Vec<String>,
    ) -> Reply {
        let bearer = request
            .header("Authorization")
            .and_then(|v| v.strip_prefix("Bearer "));
        let body = request.json().unwrap_or_default();
        if request.method != "POST" || request.header("Content-Type") != Some("application/json") {
            violations.push(format!(
                "{} {} without a JSON body",
                request.method, request.path
            ));
        }
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        };
        let (api, user_ids) = match request.path.as_str() {
            "/regulations" => {
                if bearer != Some(&self.segment_token) {
                    violations.push("Segment regulation without the workspace token".into());
                    return Reply::json(401, json!({"errors": [{"type": "unauthorized"}]}));
                }
                let ids = strings(&body["subjectIds"]);
                if body["regulationType"] != "SUPPRESS_WITH_DELETE"
                    || body["subjectType"] != "USER_ID"
                    || ids.is_empty()
                    || ids.len() > 5000
                {
                    violations.push(format!("malformed Segment regulation: {body}"));
                    return Reply::json(422, json!({"errors": [{"type": "validation"}]}));
                }
                ("segment", ids)
            }
            "/v2/regulations" => {
                if bearer != Some(&self.rudder_token) {
                    violations.push("RudderStack regulation without the access token".into());
                    return Reply::json(401, json!({"message": "unauthorized"}));
                }
                let ids: Vec<String> = body["users"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|u| u["userId"].as_str().map(str::to_owned))
                    .collect();
                if body["regulationType"] != "suppress_with_delete"
                    || strings(&body["destinationIds"]).is_empty()
                    || ids.is_empty()
                {
                    violations.push(format!("malformed RudderStack regulation: {body}"));
                    return Reply::json(400, json!({"message": "invalid regulation"}));
                }
                ("rudderstack", ids)
            }
            other => {
                violations.push(format!("POST {other}: no such regulations API"));
                return Reply::json(404, json!({}));
            }
        };
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        let id = format!("{api}-reg-{}", created.len() + 1);
        created.push(Regulation {
            api,
            id: id.clone(),
            user_ids,
            body,
        });
        match api {
            "segment" => Reply::json(200, json!({"data": {"regulateId": id}})),
            _ => Reply::json(
                201,
                json!({"id": id, "regulationType": "suppress_with_delete", "canceled": false}),
            ),
        }
    }
}
