//! Every AWS operation mailinfra calls, in one table: what it reads or writes and what it
//! acts on. Each SDK call names its entry (`AwsError::call(&ops::X, …)`), and
//! `mailinfra policy` builds the least-privilege IAM policy from this table, so the two
//! cannot drift apart (tests/policy.rs checks both directions).

/// The IAM service prefix of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    Route53,
    Ses,
    /// Needs no permission (GetCallerIdentity).
    Sts,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// What an operation acts on, for resource-level permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Account-wide: IAM takes only `*`.
    Account,
    /// A hosted zone.
    HostedZone,
    /// Route 53 record changes in a hosted zone (scoped by record names).
    RecordSets,
    /// A Route 53 change id.
    Change,
    /// An SES identity.
    Identity,
    /// An SES configuration set.
    ConfigurationSet,
    /// No permission is needed.
    Free,
}

/// When an operation is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Always (Route 53 records).
    Always,
    /// When the blueprint names a region (SES identities and sets are observed there).
    Ses,
    /// When the blueprint manages SES account settings.
    SesAccount,
}

#[derive(Debug)]
pub struct Op {
    pub service: Service,
    pub name: &'static str,
    pub access: Access,
    pub target: Target,
    pub need: Need,
}

impl Op {
    /// The IAM action, e.g. `route53:ListHostedZones`.
    pub fn action(&self) -> String {
        let prefix = match self.service {
            Service::Route53 => "route53",
            Service::Ses => "ses",
            Service::Sts => "sts",
        };
        format!("{prefix}:{}", self.name)
    }
}

macro_rules! ops {
    ($($id:ident = $svc:ident $name:literal $access:ident $target:ident $need:ident;)*) => {
        $(pub const $id: Op = Op {
            service: Service::$svc,
            name: $name,
            access: Access::$access,
            target: Target::$target,
            need: Need::$need,
        };)*
        /// The whole table.
        pub const ALL: &[&Op] = &[$(&$id),*];
    };
}

ops! {
    LIST_HOSTED_ZONES = Route53 "ListHostedZones" Read Account Always;
    LIST_TAGS_FOR_RESOURCES = Route53 "ListTagsForResources" Read HostedZone Always;
    LIST_RESOURCE_RECORD_SETS = Route53 "ListResourceRecordSets" Read HostedZone Always;
    GET_CHANGE = Route53 "GetChange" Read Change Always;
    CHANGE_RESOURCE_RECORD_SETS = Route53 "ChangeResourceRecordSets" Write RecordSets Always;
    CHANGE_TAGS_FOR_RESOURCE = Route53 "ChangeTagsForResource" Write HostedZone Always;

    LIST_EMAIL_IDENTITIES = Ses "ListEmailIdentities" Read Account Ses;
    GET_EMAIL_IDENTITY = Ses "GetEmailIdentity" Read Identity Ses;
    LIST_CONFIGURATION_SETS = Ses "ListConfigurationSets" Read Account Ses;
    GET_CONFIGURATION_SET = Ses "GetConfigurationSet" Read ConfigurationSet Ses;
    GET_ACCOUNT = Ses "GetAccount" Read Account Ses;
    CREATE_EMAIL_IDENTITY = Ses "CreateEmailIdentity" Write Identity Ses;
    DELETE_EMAIL_IDENTITY = Ses "DeleteEmailIdentity" Write Identity Ses;
    PUT_EMAIL_IDENTITY_MAIL_FROM_ATTRIBUTES = Ses "PutEmailIdentityMailFromAttributes" Write Identity Ses;
    PUT_EMAIL_IDENTITY_DKIM_SIGNING_ATTRIBUTES = Ses "PutEmailIdentityDkimSigningAttributes" Write Identity Ses;
    PUT_EMAIL_IDENTITY_DKIM_ATTRIBUTES = Ses "PutEmailIdentityDkimAttributes" Write Identity Ses;
    PUT_EMAIL_IDENTITY_CONFIGURATION_SET_ATTRIBUTES = Ses "PutEmailIdentityConfigurationSetAttributes" Write Identity Ses;
    TAG_RESOURCE = Ses "TagResource" Write Identity Ses;
    CREATE_CONFIGURATION_SET = Ses "CreateConfigurationSet" Write ConfigurationSet Ses;
    DELETE_CONFIGURATION_SET = Ses "DeleteConfigurationSet" Write ConfigurationSet Ses;
    PUT_CONFIGURATION_SET_SUPPRESSION_OPTIONS = Ses "PutConfigurationSetSuppressionOptions" Write ConfigurationSet Ses;
    PUT_CONFIGURATION_SET_DELIVERY_OPTIONS = Ses "PutConfigurationSetDeliveryOptions" Write ConfigurationSet Ses;
    PUT_CONFIGURATION_SET_SENDING_OPTIONS = Ses "PutConfigurationSetSendingOptions" Write ConfigurationSet Ses;
    PUT_ACCOUNT_SUPPRESSION_ATTRIBUTES = Ses "PutAccountSuppressionAttributes" Write Account SesAccount;
    PUT_ACCOUNT_DETAILS = Ses "PutAccountDetails" Write Account SesAccount;

    GET_CALLER_IDENTITY = Sts "GetCallerIdentity" Read Free Ses;
}
