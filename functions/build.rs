//! template.yaml is the one list of functions: this reads it and writes `functions.rs` (the
//! route table and the dispatch from a route's binary to its handler module), so adding a
//! function is its handler module, its bin and its template entry. Naming rule: binary
//! `billing-summary` = bin `src/bin/billing-summary.rs` = module `billing_summary` = resource
//! `BillingSummaryFunction`.

use std::fmt::Write;

use serde_yaml::Value;

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    match value.get(key)? {
        Value::Tagged(tagged) => tagged.value.as_str(),
        other => other.as_str(),
    }
}

fn main() {
    // Read at run time, not with `env!`: cargo reuses a compiled build script across checkouts
    // of the workspace in other folders that share a target directory (as CI's cache does).
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let path = std::path::Path::new(&manifest_dir).join("../template.yaml");
    println!("cargo::rerun-if-changed={}", path.display());
    let template: Value = serde_yaml::from_str(&std::fs::read_to_string(&path).expect("read template.yaml")).expect("parse template.yaml");
    let mut routes = String::new();
    let mut binaries = String::new();
    let mut arms = String::new();
    let resources = template.get("Resources").and_then(Value::as_mapping).expect("template.yaml has Resources");
    for (name, resource) in resources {
        if text(resource, "Type") != Some("AWS::Serverless::Function") {
            continue;
        }
        let name = name.as_str().unwrap_or_default();
        let binary = resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| text(b, "Binary"))
            .unwrap_or_else(|| panic!("template.yaml: {name} has no Metadata.BuildProperties.Binary"));
        writeln!(binaries, "    {binary:?},").unwrap();
        let events = resource.get("Properties").and_then(|p| p.get("Events")).and_then(Value::as_mapping);
        let mut routed = false;
        for event in events.into_iter().flat_map(|e| e.values()).filter(|e| text(e, "Type") == Some("HttpApi")) {
            let props = event.get("Properties").unwrap_or_else(|| panic!("template.yaml: {name} has an event without Properties"));
            let field = |key| text(props, key).unwrap_or_else(|| panic!("template.yaml: {name} has an event without {key}"));
            let authorized = props.get("Auth").and_then(|a| text(a, "Authorizer")) != Some("NONE");
            writeln!(
                routes,
                "    Route {{ method: {:?}, path: {:?}, binary: {binary:?}, authorized: {authorized} }},",
                field("Method").to_uppercase(),
                field("Path")
            )
            .unwrap();
            routed = true;
        }
        if routed {
            writeln!(arms, "        {binary:?} => crate::braked(app, req, crate::{}::handle).await,", binary.replace('-', "_")).unwrap();
        }
    }
    let code = format!(
        "/// Every function binary of template.yaml (the routes' and the authorizer).\n\
         pub const BINARIES: &[&str] = &[\n{binaries}];\n\n\
         /// Every HTTP API route of template.yaml, with the binary that serves it.\n\
         pub const ROUTES: &[Route] = &[\n{routes}];\n\n\
         /// Runs the handler of a route's binary, as that binary's Lambda would (through `braked`);\n\
         /// `None` for a binary that serves no route.\n\
         pub async fn dispatch(binary: &str, app: &App, req: Request) -> Option<Response<Body>> {{\n\
         \x20   Some(match binary {{\n{arms}        _ => return None,\n    }})\n}}\n"
    );
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("functions.rs");
    std::fs::write(out, code).expect("write functions.rs");
}
