//! The HTTP layer: TEI's routes, each a thin handler over `queue::Infer`, the JSON body
//! extractor (size limit, read timeout, parse errors as JSON), the API-key check, the
//! per-route request counts, and the one place where an error kind becomes a status code.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::de::DeserializeOwned;

use super::model::Model;
use super::queue::{Infer, Output};
use super::types::*;
use crate::infer::{normalize, probabilities};

/// Everything a handler reads.
pub struct App {
    pub infer: Infer,
    pub info: serde_json::Value,
    pub max_client_batch_size: usize,
    pub auto_truncate: bool,
    pub read_timeout: Duration,
    /// "Bearer KEY" when `--api-key` is given.
    pub bearer: Option<String>,
    /// The name `/v1/embeddings` answers with.
    pub model_name: String,
}

type Shared = State<Arc<App>>;

/// TEI's status code of each error kind (its `router/src/http/server.rs`), plus ours.
pub fn status_of(kind: ErrorType) -> StatusCode {
    match kind {
        ErrorType::Unhealthy => StatusCode::SERVICE_UNAVAILABLE,
        ErrorType::Backend => StatusCode::FAILED_DEPENDENCY,
        ErrorType::Overloaded => StatusCode::TOO_MANY_REQUESTS,
        ErrorType::Validation | ErrorType::Tokenizer => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorType::Empty => StatusCode::BAD_REQUEST,
        ErrorType::Payload => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorType::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorType::Timeout => StatusCode::REQUEST_TIMEOUT,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (status_of(self.kind), Json(ErrorResponse { error: self.message, error_type: self.kind })).into_response()
    }
}

/// A JSON body: read within the read timeout and `--payload-limit`, then parsed; each failure
/// is a JSON error (axum's own `Json` answers plain text).
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<App>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, app: &Arc<App>) -> Result<Self, ApiError> {
        let bytes = match tokio::time::timeout(app.read_timeout, Bytes::from_request(req, app)).await {
            Err(_) => {
                return Err(ApiError::new(
                    ErrorType::Timeout,
                    format!("the request body did not arrive within {} s", app.read_timeout.as_secs_f64()),
                ))
            }
            Ok(Err(rejection)) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::new(
                    ErrorType::Payload,
                    format!("the request body is over the payload limit: {}", rejection.body_text()),
                ))
            }
            Ok(Err(rejection)) => {
                return Err(ApiError::new(
                    ErrorType::Validation,
                    format!("reading the request body: {}", rejection.body_text()),
                ))
            }
            Ok(Ok(bytes)) => bytes,
        };
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::new(ErrorType::Validation, format!("the request body is not a valid request: {e}")))
    }
}

/// The routes, with the API key required on all but /health, /metrics and GET /.
pub fn router(app: Arc<App>) -> Router {
    let mut routes = Router::new()
        .route("/embed", post(embed))
        .route("/predict", post(predict))
        .route("/rerank", post(rerank))
        .route("/tokenize", post(tokenize))
        .route("/embeddings", post(openai_embed))
        .route("/v1/embeddings", post(openai_embed))
        .route("/", post(by_model_type))
        .route("/invocations", post(by_model_type))
        .route("/info", get(info));
    if app.bearer.is_some() {
        routes = routes.layer(axum::middleware::from_fn_with_state(app.clone(), require_key));
    }
    let public = Router::new()
        .route("/health", get(health))
        .route("/", get(health))
        .route("/ping", get(health))
        .route("/metrics", get(metrics));
    routes.merge(public).layer(axum::middleware::from_fn_with_state(app.clone(), count)).with_state(app)
}

async fn require_key(State(app): Shared, req: Request, next: Next) -> Response {
    let given = req.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes).unwrap_or_default();
    let expected = app.bearer.as_deref().unwrap_or_default().as_bytes();
    // Compared in time independent of where the first difference is.
    let same = given.len() == expected.len() && given.iter().zip(expected).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0;
    if same {
        next.run(req).await
    } else {
        let what = if given.is_empty() { "missing" } else { "wrong" };
        ApiError::new(ErrorType::Unauthorized, format!("{what} API key: send the header `Authorization: Bearer KEY`"))
            .into_response()
    }
}

/// Counts every answer by route and status code (`/metrics`).
async fn count(State(app): Shared, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(req).await;
    app.infer.metrics.count_request(&route, response.status().as_u16());
    response
}

/// TEI's timing headers (milliseconds), read by load generators to split queue from compute.
fn timing_headers(out: &Output, started: Instant, characters: usize) -> HeaderMap {
    let mut h = HeaderMap::new();
    let ms = |d: Duration| HeaderValue::from(d.as_millis() as u64);
    h.insert("x-compute-type", HeaderValue::from_static("wgpu"));
    h.insert("x-compute-characters", HeaderValue::from(characters as u64));
    h.insert("x-compute-tokens", HeaderValue::from(out.tokens as u64));
    h.insert("x-total-time", ms(started.elapsed()));
    h.insert("x-tokenization-time", ms(out.tokenization));
    h.insert("x-queue-time", ms(out.queue));
    h.insert("x-inference-time", ms(out.inference));
    h.insert("x-compute-time", ms(out.tokenization + out.inference));
    h
}

fn characters(seqs: &[Sequence]) -> usize {
    seqs.iter()
        .map(|s| match s {
            Sequence::Single(a) => a.chars().count(),
            Sequence::Pair(a, b) => a.chars().count() + b.chars().count(),
        })
        .sum()
}

/// TEI's checks of a request's inputs: not empty, within `--max-client-batch-size`.
fn check_batch(app: &App, n: usize, field: &str) -> Result<(), ApiError> {
    if n == 0 {
        return Err(ApiError::new(ErrorType::Empty, format!("`{field}` cannot be empty")));
    }
    if n > app.max_client_batch_size {
        return Err(ApiError::new(
            ErrorType::Validation,
            format!("batch size {n} > maximum allowed batch size {}", app.max_client_batch_size),
        ));
    }
    Ok(())
}

fn unsupported(field: &str, given: bool) -> Result<(), ApiError> {
    match given {
        true => Err(ApiError::new(ErrorType::Validation, format!("`{field}` is not supported by wgbert serve"))),
        false => Ok(()),
    }
}

fn not_a(kind: &str) -> ApiError {
    ApiError::new(ErrorType::Backend, format!("model is not {kind} model"))
}

/// Embeddings of `texts`, normalized when asked: the step /embed and /v1/embeddings share.
async fn embeddings(
    app: &App,
    texts: Vec<String>,
    truncate: Option<bool>,
    direction: TruncationDirection,
    unit: bool,
) -> Result<(Output, usize), ApiError> {
    if !matches!(*app.infer.model, Model::Embedding(_)) {
        return Err(not_a("an embedding"));
    }
    let seqs: Vec<Sequence> = texts.into_iter().map(Sequence::Single).collect();
    let chars = characters(&seqs);
    let mut out = app.infer.run(seqs, truncate.unwrap_or(app.auto_truncate), direction).await?;
    if unit {
        normalize(&mut out.rows);
    }
    Ok((out, chars))
}

async fn embed(State(app): Shared, JsonBody(req): JsonBody<EmbedRequest>) -> Result<Response, ApiError> {
    let started = Instant::now();
    unsupported("prompt_name", req.prompt_name.is_some())?;
    unsupported("dimensions", req.dimensions.is_some())?;
    let texts = req.inputs.into_vec();
    check_batch(&app, texts.len(), "inputs")?;
    let (out, chars) = embeddings(&app, texts, req.truncate, req.truncation_direction, req.normalize).await?;
    let headers = timing_headers(&out, started, chars);
    Ok((headers, Json(out.rows)).into_response())
}

async fn openai_embed(State(app): Shared, JsonBody(req): JsonBody<OpenAiRequest>) -> Result<Response, ApiError> {
    let started = Instant::now();
    unsupported("dimensions", req.dimensions.is_some())?;
    let texts = req.input.into_vec();
    check_batch(&app, texts.len(), "input")?;
    // TEI's OpenAI route normalizes, as OpenAI's embeddings are unit vectors.
    let (out, chars) = embeddings(&app, texts, None, TruncationDirection::Right, true).await?;
    let headers = timing_headers(&out, started, chars);
    let data = out
        .rows
        .iter()
        .enumerate()
        .map(|(index, v)| OpenAiEmbedding {
            object: "embedding",
            embedding: match req.encoding_format {
                EncodingFormat::Float => OpenAiVector::Float(v.clone()),
                EncodingFormat::Base64 => OpenAiVector::Base64(
                    base64::engine::general_purpose::STANDARD
                        .encode(v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>()),
                ),
            },
            index,
        })
        .collect();
    let usage = OpenAiUsage { prompt_tokens: out.tokens, total_tokens: out.tokens };
    Ok((headers, Json(OpenAiResponse { object: "list", data, model: app.model_name.clone(), usage })).into_response())
}

/// The scores of one input's row of logits: probabilities (softmax, or σ for one logit) or the
/// logits themselves with `raw`.
fn scores(row: &[f32], raw: bool) -> Vec<f32> {
    match raw {
        true => row.to_vec(),
        false => probabilities(row, row.len()).remove(0),
    }
}

async fn predict(State(app): Shared, JsonBody(req): JsonBody<PredictRequest>) -> Result<Response, ApiError> {
    let started = Instant::now();
    let Model::Classifier(c) = &*app.infer.model else {
        return Err(not_a("a classifier"));
    };
    let (seqs, single) = match req.inputs {
        PredictInput::Single(s) => (vec![s], true),
        PredictInput::Batch(v) => (v, false),
    };
    check_batch(&app, seqs.len(), "inputs")?;
    for (i, s) in seqs.iter().enumerate() {
        match (s, c.model.text_pairs) {
            (Sequence::Pair(..), false) => {
                return Err(ApiError::new(
                    ErrorType::Validation,
                    format!("input {i} is a pair, and this model reads single texts"),
                ))
            }
            (Sequence::Single(_), true) => {
                return Err(ApiError::new(
                    ErrorType::Validation,
                    format!("input {i} is a single text, and this model reads sentence pairs: send [text, pair]"),
                ))
            }
            _ => {}
        }
    }
    let chars = characters(&seqs);
    let out = app.infer.run(seqs, req.truncate.unwrap_or(app.auto_truncate), req.truncation_direction).await?;
    let mut all = Vec::with_capacity(out.rows.len());
    for row in &out.rows {
        let s = scores(row, req.raw_scores);
        if s.iter().any(|v| v.is_nan()) {
            return Err(ApiError::new(ErrorType::Backend, "score is NaN"));
        }
        // One raw logit is the score of the second class (σ(z) is its probability).
        let offset = c.classes.len() - s.len();
        let mut p: Vec<Prediction> = s
            .iter()
            .enumerate()
            .map(|(k, &score)| Prediction { score, label: c.label(k + offset).to_string() })
            .collect();
        p.sort_by(|a, b| b.score.total_cmp(&a.score));
        all.push(p);
    }
    let headers = timing_headers(&out, started, chars);
    Ok(match single {
        true => (headers, Json(all.remove(0))).into_response(),
        false => (headers, Json(all)).into_response(),
    })
}

async fn rerank(State(app): Shared, JsonBody(req): JsonBody<RerankRequest>) -> Result<Response, ApiError> {
    let started = Instant::now();
    if app.infer.model.kind() != "reranker" {
        return Err(not_a("a re-ranker"));
    }
    check_batch(&app, req.texts.len(), "texts")?;
    let seqs: Vec<Sequence> = req.texts.iter().map(|t| Sequence::Pair(req.query.clone(), t.clone())).collect();
    let chars = characters(&seqs);
    let out = app.infer.run(seqs, req.truncate.unwrap_or(app.auto_truncate), req.truncation_direction).await?;
    // The score of a pair is its last class's: σ(z) of a one-logit head, the "related" class
    // of a two-class one.
    let mut ranks: Vec<Rank> = out
        .rows
        .iter()
        .enumerate()
        .map(|(index, row)| Rank {
            index,
            text: req.return_text.then(|| req.texts[index].clone()),
            score: *scores(row, req.raw_scores).last().unwrap_or(&f32::NAN),
        })
        .collect();
    ranks.sort_by(|a, b| b.score.total_cmp(&a.score));
    let headers = timing_headers(&out, started, chars);
    Ok((headers, Json(ranks)).into_response())
}

/// POST / and /invocations: the route of the model's kind, as TEI dispatches them.
async fn by_model_type(State(app): Shared, req: Request) -> Response {
    let result = match app.infer.model.kind() {
        "embedding" => match JsonBody::from_request(req, &app).await {
            Ok(body) => embed(State(app), body).await,
            Err(e) => Err(e),
        },
        "reranker" => match JsonBody::from_request(req, &app).await {
            Ok(body) => rerank(State(app), body).await,
            Err(e) => Err(e),
        },
        _ => match JsonBody::from_request(req, &app).await {
            Ok(body) => predict(State(app), body).await,
            Err(e) => Err(e),
        },
    };
    result.into_response()
}

async fn tokenize(State(app): Shared, JsonBody(req): JsonBody<TokenizeRequest>) -> Result<Response, ApiError> {
    unsupported("prompt_name", req.prompt_name.is_some())?;
    let texts = req.inputs.into_vec();
    check_batch(&app, texts.len(), "inputs")?;
    let model = app.infer.model.clone();
    let tokens = tokio::task::spawn_blocking(move || {
        let tok = model.tokenizer();
        texts
            .iter()
            .map(|t| {
                let mut ids = tok.encode(t);
                if !req.add_special_tokens {
                    ids = ids[1..ids.len() - 1].to_vec();
                }
                let last = ids.len().saturating_sub(1);
                ids.into_iter()
                    .enumerate()
                    .map(|(i, id)| SimpleToken {
                        id,
                        text: tok.id_to_token(id).unwrap_or("[UNK]").to_string(),
                        special: req.add_special_tokens && (i == 0 || i == last),
                        start: None,
                        stop: None,
                    })
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| ApiError::new(ErrorType::Tokenizer, format!("tokenization failed: {e}")))?;
    Ok(Json(tokens).into_response())
}

async fn health(State(app): Shared) -> Result<StatusCode, ApiError> {
    match app.infer.healthy() {
        true => Ok(StatusCode::OK),
        false => Err(ApiError::new(ErrorType::Unhealthy, "unhealthy")),
    }
}

async fn info(State(app): Shared) -> Json<serde_json::Value> {
    Json(app.info.clone())
}

async fn metrics(State(app): Shared) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.infer.metrics.render()).into_response()
}
