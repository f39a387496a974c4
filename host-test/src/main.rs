//! `host-test`: run the ai-gateway component in wasmtime.
//!
//!     cargo run -p host-test -- chat "Hello"
//!
//! With OPENAI_API_KEY, ANTHROPIC_API_KEY or CLOUDFLARE_API_TOKEN +
//! CLOUDFLARE_ACCOUNT_ID set, the chat goes to that provider; with none, the
//! built-in mock upstream starts on 127.0.0.1 and answers.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use host_test::cfg;
use host_test::host::{InstanceConfig, Runtime, default_cache_dir, gateway_wasm, w};
use host_test::kv::KvStore;
use host_test::mock::MockServer;

#[derive(Parser, Debug)]
#[command(
    name = "host-test",
    about = "Run the ai-gateway WebAssembly component in wasmtime",
    version
)]
struct Cli {
    /// The component to run (default: the one this binary was built with).
    #[arg(long, global = true, value_name = "PATH")]
    component: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Chat with a model through the component.
    Chat(ChatArgs),
    /// Serve an HTTP component built on the gateway (default: the
    /// OpenAI-compatible proxy composed with the gateway) on wasmtime.
    Serve(ServeArgs),
    /// Run a WASI command component (e.g. the guest benchmarks) to completion.
    Run {
        /// The command component.
        wasm: PathBuf,
    },
    /// Run the mock upstream alone (OpenAI, Anthropic, Workers AI formats;
    /// admin API under /__mock/), until interrupted.
    Mock {
        /// Port on 127.0.0.1 (0 = any free port; the address is printed).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// An application variable (`fermyon:spin/variables`), name=value; repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// A JSON file whose contents become the `gateway_config` variable.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Key-value database file (default: a temporary one, which is lost on
    /// exit anyway and so commits without fsync). Commits to this file are
    /// durable: each write is on disk before the component sees it done, so
    /// a crash or SIGKILL loses nothing a client was answered about.
    #[arg(long, value_name = "FILE", conflicts_with = "redis")]
    kv: Option<PathBuf>,
    /// With --kv: commit without fsync. Faster, but redb then persists
    /// nothing until a durable commit, so a crash (even a SIGKILL) loses
    /// every write since the process started.
    #[arg(long, requires = "kv")]
    kv_relaxed: bool,
    /// Keep key-value state (cache, costs, budgets, rate limits) in Redis,
    /// shared by every host process using the same URL:
    /// `redis://[[user]:password@]host[:port][/db]`.
    #[arg(long, value_name = "URL", env = "AIGW_REDIS_URL")]
    redis: Option<String>,
    /// Use wasmtime's pooling instance allocator.
    #[arg(long)]
    pooling: bool,
    /// Keep at most this many idle instances for reuse.
    #[arg(long, default_value_t = 64)]
    max_idle: usize,
    /// Export an OpenTelemetry span per request and per gateway call
    /// (GenAI conventions) to this OTLP/HTTP traces endpoint, e.g.
    /// `http://127.0.0.1:4318/v1/traces`. Default: the standard
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`; none if unset.
    /// `OTEL_SERVICE_NAME` overrides the service name `ai-gateway`.
    #[arg(long, value_name = "URL")]
    otlp_endpoint: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ProviderArg {
    Openai,
    Anthropic,
    WorkersAi,
}

#[derive(clap::Args, Debug)]
struct ChatArgs {
    /// What to say.
    #[arg(required = true, num_args = 1..)]
    prompt: Vec<String>,
    /// Provider to use (default: the first one with credentials in the
    /// environment, else the mock's OpenAI-compatible endpoint).
    #[arg(long, value_enum)]
    provider: Option<ProviderArg>,
    /// Model (default depends on the provider).
    #[arg(long)]
    model: Option<String>,
    /// A system prompt.
    #[arg(long)]
    system: Option<String>,
    /// Print tokens as they arrive.
    #[arg(long)]
    stream: bool,
    /// Print the whole output as JSON.
    #[arg(long)]
    json: bool,
    /// Maximum output tokens.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    max_tokens: Option<u32>,
    /// Sampling temperature.
    #[arg(long)]
    temperature: Option<f64>,
    /// Use the built-in mock even when API keys are set.
    #[arg(long)]
    mock: bool,
    /// Deadline for the whole call, in milliseconds.
    #[arg(long, default_value_t = 120_000)]
    timeout_ms: u64,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

struct Setup {
    config: w::GatewayConfig,
    provider: &'static str,
    model: String,
    mock: Option<MockServer>,
}

fn default_model(p: ProviderArg) -> &'static str {
    match p {
        ProviderArg::Openai => "gpt-4o-mini",
        ProviderArg::Anthropic => "claude-sonnet-4-6",
        ProviderArg::WorkersAi => "@cf/meta/llama-3.1-8b-instruct",
    }
}

fn name(p: ProviderArg) -> &'static str {
    match p {
        ProviderArg::Openai => "openai",
        ProviderArg::Anthropic => "anthropic",
        ProviderArg::WorkersAi => "workers-ai",
    }
}

async fn setup(args: &ChatArgs) -> anyhow::Result<Setup> {
    let openai = env("OPENAI_API_KEY");
    let anthropic = env("ANTHROPIC_API_KEY");
    let workers = env("CLOUDFLARE_API_TOKEN").zip(env("CLOUDFLARE_ACCOUNT_ID"));
    let mut providers = Vec::new();
    let mut mock = None;
    if args.mock || (openai.is_none() && anthropic.is_none() && workers.is_none()) {
        let m = MockServer::start().await?;
        eprintln!(
            "No API key in the environment (OPENAI_API_KEY, ANTHROPIC_API_KEY, CLOUDFLARE_API_TOKEN + \
             CLOUDFLARE_ACCOUNT_ID){}: using the built-in mock upstream at {}.",
            if args.mock { " or --mock given" } else { "" },
            m.base_url()
        );
        let base = m.base_url();
        providers.push(cfg::openai(
            "openai",
            "sk-mock",
            Some(&format!("{base}/v1")),
        ));
        providers.push(cfg::anthropic("anthropic", "sk-ant-mock", Some(&base)));
        providers.push(cfg::workers_ai(
            "workers-ai",
            "cf-mock",
            "mock-account",
            Some(&format!("{base}/client/v4")),
        ));
        mock = Some(m);
    } else {
        if let Some(k) = &openai {
            providers.push(cfg::openai("openai", k, env("OPENAI_BASE_URL").as_deref()));
        }
        if let Some(k) = &anthropic {
            providers.push(cfg::anthropic(
                "anthropic",
                k,
                env("ANTHROPIC_BASE_URL").as_deref(),
            ));
        }
        if let Some((t, a)) = &workers {
            providers.push(cfg::workers_ai("workers-ai", t, a, None));
        }
    }
    let chosen = match args.provider {
        Some(p) => p,
        None if mock.is_some() || openai.is_some() => ProviderArg::Openai,
        None if anthropic.is_some() => ProviderArg::Anthropic,
        None => ProviderArg::WorkersAi,
    };
    if !providers.iter().any(|p| p.name == name(chosen)) {
        anyhow::bail!(
            "--provider {} needs its credentials in the environment ({})",
            name(chosen),
            match chosen {
                ProviderArg::Openai => "OPENAI_API_KEY",
                ProviderArg::Anthropic => "ANTHROPIC_API_KEY",
                ProviderArg::WorkersAi => "CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID",
            }
        );
    }
    Ok(Setup {
        config: cfg::gateway(providers, Some(name(chosen))),
        provider: name(chosen),
        model: args
            .model
            .clone()
            .unwrap_or_else(|| default_model(chosen).to_owned()),
        mock,
    })
}

fn describe(e: &w::GatewayError) -> String {
    let d = |kind: &str, x: &w::UpstreamDetail| {
        let status = x.status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
        format!("{kind}{status}: {}", x.message)
    };
    match e {
        w::GatewayError::Validation(m) => format!("invalid request: {m}"),
        w::GatewayError::Auth(x) => d("authentication failed", x),
        w::GatewayError::NotFound(x) => d("not found", x),
        w::GatewayError::RateLimited(x) => d("rate limited", x),
        w::GatewayError::Timeout(t) => format!("timed out: {}", t.message),
        w::GatewayError::ServiceUnavailable(x) => d("service unavailable", x),
        w::GatewayError::Upstream(x) => d("upstream error", x),
        w::GatewayError::BudgetExceeded(b) => format!(
            "budget exceeded: {} of {} micro-USD",
            b.spent_micro_usd, b.budget_micro_usd
        ),
        w::GatewayError::ModelNotAllowed(m) => {
            format!("model {} not allowed for {}", m.model, m.provider)
        }
        w::GatewayError::Internal(m) => {
            format!("internal error: {}", m.as_deref().unwrap_or("unknown"))
        }
    }
}

fn usage_line(provider: &str, model: &str, usage: Option<&w::Usage>, started: Instant) -> String {
    let tokens = usage.map_or_else(
        || "usage not reported".to_owned(),
        |u| format!("{} in / {} out tokens", u.input_tokens, u.output_tokens),
    );
    format!(
        "[provider: {provider} · model: {model} · {tokens} · {:.2} s]",
        started.elapsed().as_secs_f64()
    )
}

async fn chat(component: Option<PathBuf>, args: ChatArgs) -> anyhow::Result<ExitCode> {
    if let Some(t) = args.temperature
        && !(0.0..=2.0).contains(&t)
    {
        anyhow::bail!("--temperature must be between 0 and 2");
    }
    let setup = setup(&args).await?;
    let dir = tempfile::tempdir()?;
    let kv = KvStore::open(&dir.path().join("kv.redb"))?;
    let wasm = component.unwrap_or_else(gateway_wasm);
    let runtime = Runtime::new(&wasm, false, Some(&default_cache_dir()))?;
    let mut inst = runtime.instance(&InstanceConfig::new(kv)).await?;
    let gw = match inst.open(&setup.config).await? {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut messages = Vec::new();
    if let Some(s) = &args.system {
        messages.push(cfg::message(w::Role::System, s));
    }
    messages.push(cfg::message(w::Role::User, &args.prompt.join(" ")));
    let input = w::AiInput::Messages(messages);
    let opts = w::RunOptions {
        max_tokens: args.max_tokens,
        temperature: args.temperature,
        timeout_ms: Some(args.timeout_ms),
        ..cfg::options()
    };
    let started = Instant::now();
    if args.stream {
        let s = match inst.stream(gw, &setup.model, &input, Some(&opts)).await? {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {}", describe(&e));
                return Ok(ExitCode::FAILURE);
            }
        };
        let mut out = std::io::stdout().lock();
        let mut all = Vec::new();
        let mut code = ExitCode::SUCCESS;
        while let Some(ev) = inst.next(s).await? {
            match &ev {
                w::StreamEvent::Text(t) if !args.json => {
                    write!(out, "{t}")?;
                    out.flush()?;
                }
                w::StreamEvent::Reasoning(r) if !args.json => eprint!("{r}"),
                w::StreamEvent::ToolUse(c) if !args.json => {
                    writeln!(out, "\n[tool call {} {}({})]", c.id, c.name, c.arguments)?
                }
                w::StreamEvent::Done(d) if !args.json => {
                    writeln!(out)?;
                    eprintln!(
                        "{}",
                        usage_line(&d.provider, &d.model, d.usage.as_ref(), started)
                    );
                }
                w::StreamEvent::Error(e) => {
                    if !args.json {
                        writeln!(out)?;
                    }
                    eprintln!("error: {}", describe(e));
                    code = ExitCode::FAILURE;
                }
                _ => {}
            }
            all.push(ev);
        }
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
        }
        return Ok(code);
    }
    match inst.run(gw, &setup.model, &input, Some(&opts)).await? {
        Ok(o) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&o)?);
            } else {
                println!("{}", o.text);
                for c in &o.tool_calls {
                    println!("[tool call {} {}({})]", c.id, c.name, c.arguments);
                }
                eprintln!(
                    "{}",
                    usage_line(&o.provider, &o.model, o.usage.as_ref(), started)
                );
            }
            drop(setup.mock);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {} [provider: {}]", describe(&e), setup.provider);
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn serve(component: Option<PathBuf>, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let wasm = match component {
        Some(c) => c,
        None => host_test::serve::composed_proxy()?,
    };
    let mut vars = host_test::serve::parse_vars(&args.vars)?;
    if let Some(file) = &args.config {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        vars.insert("gateway_config".into(), text);
    }
    let dir = tempfile::tempdir()?;
    let kv = match &args.redis {
        // Connecting (and the PING check) blocks: keep it off the runtime.
        Some(url) => {
            let url = url.clone();
            tokio::task::spawn_blocking(move || KvStore::redis(&url)).await??
        }
        None => match &args.kv {
            Some(path) if !args.kv_relaxed => KvStore::open(path)?,
            Some(path) => KvStore::open(path)?.relaxed(),
            None => KvStore::open(&dir.path().join("kv.redb"))?.relaxed(),
        },
    };
    let mut instance = InstanceConfig::new(kv);
    instance.variables = std::sync::Arc::new(vars);
    let otlp = host_test::ops::OtlpConfig::from_env(args.otlp_endpoint.as_deref())?;
    if let Some(o) = &otlp {
        eprintln!("exporting spans to {} (OTLP/HTTP)", o.endpoint);
    }
    let cfg = host_test::serve::ServeConfig {
        addr: args.listen,
        instance,
        pooling: args.pooling,
        max_idle: args.max_idle,
        otlp,
    };
    let mut server = host_test::serve::start(&wasm, cfg).await?;
    eprintln!(
        "serving {} on {} (Ctrl-C to stop)",
        wasm.display(),
        server.base_url()
    );
    tokio::select! {
        () = server.wait() => return Ok(ExitCode::SUCCESS),
        r = tokio::signal::ctrl_c() => r?,
    }
    // Interrupted: the spans still queued go to the collector first.
    server.flush(std::time::Duration::from_secs(5)).await;
    Ok(ExitCode::SUCCESS)
}

async fn run_command(wasm: &std::path::Path) -> anyhow::Result<ExitCode> {
    let engine = host_test::host::engine(false, Some(&default_cache_dir()))?;
    let component =
        wasmtime::component::Component::from_file(&engine, wasm).map_err(anyhow::Error::from)?;
    let linker = host_test::host::link(&engine)?;
    let dir = tempfile::tempdir()?;
    let kv = KvStore::open(&dir.path().join("kv.redb"))?;
    let mut store = host_test::host::new_store_with_stdout(&engine, &InstanceConfig::new(kv));
    let command =
        wasmtime_wasi::p2::bindings::Command::instantiate_async(&mut store, &component, &linker)
            .await?;
    let ok = command.wasi_cli_run().call_run(&mut store).await?;
    Ok(if ok.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn serve_mock(port: u16) -> anyhow::Result<ExitCode> {
    let mock = MockServer::start_on(port).await?;
    println!("{}", mock.base_url());
    eprintln!(
        "mock upstream listening on {} (Ctrl-C to stop)",
        mock.base_url()
    );
    tokio::signal::ctrl_c().await?;
    Ok(ExitCode::SUCCESS)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Chat(args) => chat(cli.component, args).await,
        Command::Mock { port } => serve_mock(port).await,
        Command::Serve(args) => serve(cli.component, args).await,
        Command::Run { wasm } => run_command(&wasm).await,
    };
    match result.context("host-test failed") {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
