//! mcpsync: keeps MCP server registrations in remote registries equal to `McpServer`
//! resources.

pub mod api;
pub mod controller;
pub mod engine;
pub mod local;
pub mod ops;
pub mod provider;
pub mod reconcile;
pub mod secret;
pub mod sim;
pub mod validate;
pub mod vocab;
