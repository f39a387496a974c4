#[test]
fn run_options_debug_redacts_credential_headers() {
    let o = RunOptions {
        headers: vec![
            ("authorization".into(), "Bearer sk-MARKER-1".into()),
            ("x-title".into(), "shown".into()),
        ]
        .into(),
        ..RunOptions::default()
    };
    let shown = format!("{o:?}");
    assert!(
        !shown.contains("MARKER") && shown.contains("shown"),
        "{shown}"
    );
}

use super::*;

#[test]
fn tool_call_from_raw_arguments_malformed_keeps_raw() {
    let c = ToolCall::from_raw_arguments("a".into(), "f".into(), "{\"city\": \"Par");
    assert_eq!(c.arguments, "{}");
    assert_eq!(c.raw_arguments.as_deref(), Some("{\"city\": \"Par"));
}

#[test]
fn tool_call_from_raw_arguments_empty_is_empty_object() {
    let c = ToolCall::from_raw_arguments("a".into(), "f".into(), "  ");
    assert_eq!(c.arguments, "{}");
    assert_eq!(c.raw_arguments, None);
}

#[test]
fn tool_call_from_raw_arguments_non_object_keeps_raw() {
    let c = ToolCall::from_raw_arguments("a".into(), "f".into(), "[1]");
    assert_eq!(c.arguments, "{}");
    assert_eq!(c.raw_arguments.as_deref(), Some("[1]"));
}

#[test]
fn input_validate_empty_messages_is_validation() {
    let e = Input::Messages(vec![]).validate().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Validation);
}

#[test]
fn input_validate_tool_without_id_is_validation() {
    let e = Input::Messages(vec![Message::new(Role::Tool, "42")])
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("tool-call-id"), "{e}");
}

#[test]
fn options_validate_malformed_schema_is_validation() {
    let o = RunOptions {
        response_format: Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "x".into(),
            schema: "{not json".into(),
            strict: true,
            description: None,
        })),
        ..RunOptions::default()
    };
    let e = o.validate().unwrap_err();
    assert!(e.to_string().contains("not valid JSON"), "{e}");
}

#[test]
fn options_validate_named_choice_without_tool_is_validation() {
    let o = RunOptions {
        tools: vec![ToolDefinition {
            name: "a".into(),
            description: None,
            parameters: None,
        }],
        tool_choice: Some(ToolChoice::Named("b".into())),
        ..RunOptions::default()
    };
    assert!(o.validate().is_err());
}

#[test]
fn options_validate_nan_temperature_is_validation() {
    let o = RunOptions {
        temperature: Some(f64::NAN),
        ..RunOptions::default()
    };
    assert!(o.validate().is_err());
}

#[test]
fn input_validate_parts_belong_to_their_roles() {
    let image = Content::Parts(vec![Part::Image {
        source: ImageSource::Url("https://example.com/a.png".into()),
        detail: None,
        cache_control: false,
    }]);
    let msgs = |role| {
        Input::Messages(vec![
            Message::new(Role::User, "hi"),
            Message {
                content: image.clone(),
                ..Message::new(role, "")
            },
        ])
    };
    assert!(msgs(Role::User).validate().is_ok());
    let e = msgs(Role::System).validate().unwrap_err();
    assert!(
        e.to_string()
            .contains("messages[1].content[0]: a image part is allowed only in user messages"),
        "{e}"
    );
    let reasoning = Content::Parts(vec![Part::Reasoning(ReasoningBlock::default())]);
    let e = Input::Messages(vec![Message {
        content: reasoning,
        ..Message::new(Role::User, "")
    }])
    .validate()
    .unwrap_err();
    assert!(e.to_string().contains("only in assistant messages"), "{e}");
}
