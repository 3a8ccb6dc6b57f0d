//! The one rule a CRD schema cannot express: a `McpRegistry` may read Secrets of its own
//! namespace only. CEL in a CRD cannot see `metadata.namespace`, so this is a
//! `ValidatingAdmissionPolicy` (admissionregistration.k8s.io/v1, GA since Kubernetes 1.30)
//! and its binding, shipped with the CRDs by `mcpsync crds`.

use k8s_openapi::api::admissionregistration::v1::{
    MatchResources, NamedRuleWithOperations, ValidatingAdmissionPolicy,
    ValidatingAdmissionPolicyBinding, ValidatingAdmissionPolicyBindingSpec,
    ValidatingAdmissionPolicySpec, Validation,
};
use kube::core::ObjectMeta;

use super::registry::secret_ref_paths;
use super::{GROUP, VERSION};

/// Name of the policy and of its binding.
pub const POLICY_NAME: &str = "mcpregistry-secret-namespace.mcpsync.dev";

/// CEL expression (admission-policy scope) that holds when the secret reference at
/// `spec.provider.<provider>.<field>` names no namespace or the object's own.
///
/// Two spellings of the field, on purpose. Admission policies are documented to escape
/// property names that are CEL reserved words (`namespace` -> `__namespace__`) as CRD rules
/// do, while API servers have been seen to hand the object over as plain JSON, where the
/// field is `namespace`. Each spelling is checked only when present (`has()` on a missing
/// key is false, not an error), so the rule holds under either representation. The
/// object's namespace is read as `namespaceObject.metadata.name`, which needs no escaping.
pub fn secret_ref_namespace_expression(provider: &str, field: &str) -> String {
    let block = format!("object.spec.provider.{provider}");
    let secret_ref = format!("{block}.{field}");
    let own = "namespaceObject.metadata.name";
    format!(
        "!has({block}) || ((!has({secret_ref}.namespace) || {secret_ref}.namespace == {own}) \
         && (!has({secret_ref}.__namespace__) || {secret_ref}.__namespace__ == {own}))"
    )
}

/// One validation per secret reference, each naming the field at fault.
pub fn secret_ref_validations() -> Vec<Validation> {
    secret_ref_paths()
        .into_iter()
        .map(|(provider, field)| Validation {
            expression: secret_ref_namespace_expression(provider, field),
            message: Some(format!(
                "spec.provider.{provider}.{field}.namespace must be omitted or equal to the \
                 McpRegistry's own namespace: a McpRegistry can only read Secrets of its own \
                 namespace (use a ClusterMcpRegistry to read another)"
            )),
            message_expression: None,
            reason: Some("Invalid".into()),
        })
        .collect()
}

/// The policy: on create and update of a `McpRegistry`, every secret reference stays in the
/// McpRegistry's namespace.
pub fn mcpregistry_secret_namespace_policy() -> ValidatingAdmissionPolicy {
    ValidatingAdmissionPolicy {
        metadata: ObjectMeta {
            name: Some(POLICY_NAME.into()),
            ..ObjectMeta::default()
        },
        spec: Some(ValidatingAdmissionPolicySpec {
            failure_policy: Some("Fail".into()),
            match_constraints: Some(MatchResources {
                resource_rules: Some(vec![NamedRuleWithOperations {
                    api_groups: Some(vec![GROUP.into()]),
                    api_versions: Some(vec![VERSION.into()]),
                    operations: Some(vec!["CREATE".into(), "UPDATE".into()]),
                    resources: Some(vec!["mcpregistries".into()]),
                    ..NamedRuleWithOperations::default()
                }]),
                ..MatchResources::default()
            }),
            validations: Some(secret_ref_validations()),
            ..ValidatingAdmissionPolicySpec::default()
        }),
        status: None,
    }
}

/// The binding that puts the policy in force (`Deny`) in every namespace.
pub fn mcpregistry_secret_namespace_binding() -> ValidatingAdmissionPolicyBinding {
    ValidatingAdmissionPolicyBinding {
        metadata: ObjectMeta {
            name: Some(POLICY_NAME.into()),
            ..ObjectMeta::default()
        },
        spec: Some(ValidatingAdmissionPolicyBindingSpec {
            policy_name: Some(POLICY_NAME.into()),
            validation_actions: Some(vec!["Deny".into()]),
            ..ValidatingAdmissionPolicyBindingSpec::default()
        }),
    }
}
