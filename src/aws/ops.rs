//! Every AWS operation mailinfra calls, in one table: what it reads or writes and what it
//! acts on. Each SDK call names its entry (`AwsError::call(&ops::X, …)`), and
//! `mailinfra policy` builds the least-privilege IAM policy from this table, so the two
//! cannot drift apart (tests/policy.rs checks both directions).

/// The IAM service prefix of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Service {
    Route53,
    Ses,
    Ec2,
    Iam,
    Ssm,
    /// Needs no permission (GetCallerIdentity).
    Sts,
    /// The Resource Groups Tagging API (IAM prefix `tag`).
    Tagging,
    Kms,
    /// CloudWatch Logs (the gateway's bounce list).
    Logs,
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
    /// Creates the gateway's security group in the VPC (tagged at creation).
    SecurityGroupCreate,
    /// Allocates the gateway's Elastic IP (tagged at creation).
    AddressCreate,
    /// Creates the gateway's network interface in the subnet, in the gateway's security
    /// group (tagged at creation).
    NetworkInterfaceCreate,
    /// Launches the gateway instance (RunInstances: one statement per resource type).
    Launch,
    /// Tags given in a create request (`ec2:CreateTags`, implied).
    TagOnCreate,
    /// Acts on an EC2 resource that carries the blueprint's tag.
    Ec2Tagged,
    /// Reads EC2 (IAM grants EC2 reads only on `*`).
    Ec2Read,
    /// Reads an instance's attribute: the one EC2 read that takes an instance ARN.
    Ec2InstanceRead,
    /// The gateway's IAM role and instance profile.
    GatewayRole,
    /// Creates the gateway's role with its tags (`iam:CreateRole` and the implied
    /// `iam:TagRole`), only with the gateway's permissions boundary.
    GatewayRoleCreate,
    /// Changes the gateway role's permissions (its inline policy, its boundary): only while
    /// the role's permissions boundary is the gateway's (`iam:PermissionsBoundary`).
    GatewayRoleBounded,
    /// The gateway role's permissions boundary, a managed policy (`crate::mail::gateway`).
    GatewayBoundary,
    /// Passes the gateway's role to EC2 (`iam:PassRole`, implied by the launch).
    PassGatewayRole,
    /// The gateway's DKIM key parameters.
    GatewayKey,
    /// Reads the gateway's DKIM private key (to move it under the blueprint's KMS key): the
    /// bootstrap role's alone.
    GatewayKeyPrivate,
    /// The blueprint's DKIM KMS key, named by its alias (`kms:ResourceAliases`).
    GatewayKmsKey,
    /// Creates the blueprint's DKIM KMS key with its tags (and the implied `kms:TagResource`).
    GatewayKmsCreate,
    /// Points the blueprint's alias at its new key: the alias, and the key that carries the
    /// blueprint's tag.
    GatewayKmsAlias,
    /// The gateway's bounce log group (`crate::mail::gateway::bounce_log_group`).
    BounceLog,
    /// Parameter Store encrypting the private key with the blueprint's KMS key for the caller
    /// (`kms:Encrypt`, implied by PutParameter of a SecureString with that key).
    GatewayKmsEncrypt,
    /// The parameter the gateway reports its health to.
    GatewayHealth,
    /// The gateway's SES SMTP user (`relay_via: ses`) and its access keys; deleting its
    /// policy too (less permission, never more).
    SmtpUser,
    /// Creates the SES SMTP user with its tags (`iam:CreateUser` and the implied
    /// `iam:TagUser`), only with the gateway's permissions boundary.
    SmtpUserCreate,
    /// Changes the SES SMTP user's policy: only while its boundary is the gateway's.
    SmtpUserBounded,
    /// Public SSM parameters (the image id).
    PublicParameter,
    /// The blueprint's run lock parameters (`crate::lock`).
    Lock,
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
    /// When the blueprint has a gateway.
    Gateway,
    /// When the gateway relays through SES (`relay_via: ses`): making its SMTP user and
    /// credentials. (Reading and deleting them is `Gateway`: the switch back to direct
    /// delivery, and destroy, remove them.)
    SesRelay,
    /// When apply or destroy takes the run lock: the blueprint names a region.
    Lock,
    /// Only the bootstrap role (`mailinfra policy --for bootstrap`), for a gateway: changes
    /// to the gateway's permissions boundary once it exists, which the apply role may never
    /// make.
    Bootstrap,
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
            Service::Ec2 => "ec2",
            Service::Iam => "iam",
            Service::Ssm => "ssm",
            Service::Tagging => "tag",
            Service::Kms => "kms",
            Service::Logs => "logs",
        };
        format!("{prefix}:{}", self.name)
    }
}

/// A permission AWS checks besides an operation's own, with no API call of its own:
/// granted whenever one of the operations `by` is.
#[derive(Debug)]
pub struct Implied {
    pub op: Op,
    pub by: &'static [&'static Op],
}

/// Tag-on-create: "If tags are specified in the resource-creating action, Amazon performs
/// additional authorization on the `ec2:CreateTags` action" (EC2 User Guide, "Grant
/// permission to tag Amazon EC2 resources during creation",
/// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html).
pub const CREATE_TAGS: Implied = Implied {
    op: Op {
        service: Service::Ec2,
        name: "CreateTags",
        access: Access::Write,
        target: Target::TagOnCreate,
        need: Need::Gateway,
    },
    by: &[
        &RUN_INSTANCES,
        &CREATE_SECURITY_GROUP,
        &ALLOCATE_ADDRESS,
        &CREATE_NETWORK_INTERFACE,
    ],
};

/// CreateRole with `Tags` also needs `iam:TagRole`: without it IAM answers "not authorized
/// to perform: iam:TagRole" (https://github.com/openshift/installer/issues/1073).
pub const TAG_ROLE: Implied = Implied {
    op: Op {
        service: Service::Iam,
        name: "TagRole",
        access: Access::Write,
        target: Target::GatewayRoleCreate,
        need: Need::Gateway,
    },
    by: &[&CREATE_ROLE],
};

/// CreateUser with `Tags` also needs `iam:TagUser`, as CreateRole needs `iam:TagRole`.
pub const TAG_USER: Implied = Implied {
    op: Op {
        service: Service::Iam,
        name: "TagUser",
        access: Access::Write,
        target: Target::SmtpUserCreate,
        need: Need::SesRelay,
    },
    by: &[&CREATE_USER],
};

/// Launching with an instance profile passes its role to EC2.
pub const PASS_ROLE: Implied = Implied {
    op: Op {
        service: Service::Iam,
        name: "PassRole",
        access: Access::Write,
        target: Target::PassGatewayRole,
        need: Need::Gateway,
    },
    by: &[&RUN_INSTANCES],
};

/// CreateKey with `Tags`: "To use the Tags parameter, you must have kms:TagResource
/// permission in an IAM policy" (AWS KMS API Reference, CreateKey,
/// https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html).
pub const TAG_KMS_KEY: Implied = Implied {
    op: Op {
        service: Service::Kms,
        name: "TagResource",
        access: Access::Write,
        target: Target::GatewayKmsCreate,
        need: Need::Gateway,
    },
    by: &[&CREATE_KEY],
};

/// PutParameter of a SecureString with a customer managed key: Parameter Store calls
/// `kms:Encrypt` with the caller's permissions (Systems Manager User Guide, "How AWS Systems
/// Manager Parameter Store uses AWS KMS",
/// https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html).
pub const KMS_ENCRYPT: Implied = Implied {
    op: Op {
        service: Service::Kms,
        name: "Encrypt",
        access: Access::Write,
        target: Target::GatewayKmsEncrypt,
        need: Need::Gateway,
    },
    by: &[&PUT_PARAMETER],
};

/// Every implied permission.
pub const IMPLIED: &[&Implied] = &[
    &PASS_ROLE,
    &CREATE_TAGS,
    &TAG_ROLE,
    &TAG_USER,
    &TAG_KMS_KEY,
    &KMS_ENCRYPT,
];

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
    GET_RESOURCES = Tagging "GetResources" Read Account Ses;
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

    GET_PARAMETERS_BY_PATH = Ssm "GetParametersByPath" Read Lock Lock;
    LOCK_GET_PARAMETER = Ssm "GetParameter" Read Lock Lock;
    LOCK_PUT_PARAMETER = Ssm "PutParameter" Write Lock Lock;
    DELETE_PARAMETER = Ssm "DeleteParameter" Write Lock Lock;

    GET_CALLER_IDENTITY = Sts "GetCallerIdentity" Read Free Ses;

    DESCRIBE_INSTANCES = Ec2 "DescribeInstances" Read Ec2Read Gateway;
    DESCRIBE_ADDRESSES = Ec2 "DescribeAddresses" Read Ec2Read Gateway;
    DESCRIBE_ADDRESSES_ATTRIBUTE = Ec2 "DescribeAddressesAttribute" Read Ec2Read Gateway;
    DESCRIBE_SECURITY_GROUPS = Ec2 "DescribeSecurityGroups" Read Ec2Read Gateway;
    DESCRIBE_SUBNETS = Ec2 "DescribeSubnets" Read Ec2Read Gateway;
    GET_ROLE = Iam "GetRole" Read GatewayRole Gateway;
    DESCRIBE_INSTANCE_TYPES = Ec2 "DescribeInstanceTypes" Read Ec2Read Gateway;
    DESCRIBE_IMAGES = Ec2 "DescribeImages" Read Ec2Read Gateway;
    DESCRIBE_INSTANCE_ATTRIBUTE = Ec2 "DescribeInstanceAttribute" Read Ec2InstanceRead Gateway;
    GATEWAY_CALLER_IDENTITY = Sts "GetCallerIdentity" Read Free Gateway;
    DESCRIBE_INSTANCE_TYPE_OFFERINGS = Ec2 "DescribeInstanceTypeOfferings" Read Ec2Read Gateway;
    DESCRIBE_ROUTE_TABLES = Ec2 "DescribeRouteTables" Read Ec2Read Gateway;
    GET_INSTANCE_PROFILE = Iam "GetInstanceProfile" Read GatewayRole Gateway;
    GET_ROLE_POLICY = Iam "GetRolePolicy" Read GatewayRole Gateway;
    DESCRIBE_PARAMETERS = Ssm "DescribeParameters" Read Account Gateway;
    GET_PARAMETER = Ssm "GetParameter" Read GatewayKey Gateway;
    GET_PUBLIC_PARAMETER = Ssm "GetParameter" Read PublicParameter Gateway;
    CREATE_ROLE = Iam "CreateRole" Write GatewayRoleCreate Gateway;
    PUT_ROLE_POLICY = Iam "PutRolePolicy" Write GatewayRoleBounded Gateway;
    PUT_ROLE_PERMISSIONS_BOUNDARY = Iam "PutRolePermissionsBoundary" Write GatewayRoleBounded Gateway;
    GET_POLICY = Iam "GetPolicy" Read GatewayBoundary Gateway;
    GET_POLICY_VERSION = Iam "GetPolicyVersion" Read GatewayBoundary Gateway;
    CREATE_POLICY = Iam "CreatePolicy" Write GatewayBoundary Gateway;
    CREATE_POLICY_VERSION = Iam "CreatePolicyVersion" Write GatewayBoundary Bootstrap;
    LIST_POLICY_VERSIONS = Iam "ListPolicyVersions" Read GatewayBoundary Bootstrap;
    DELETE_POLICY_VERSION = Iam "DeletePolicyVersion" Write GatewayBoundary Bootstrap;
    CREATE_INSTANCE_PROFILE = Iam "CreateInstanceProfile" Write GatewayRole Gateway;
    ADD_ROLE_TO_INSTANCE_PROFILE = Iam "AddRoleToInstanceProfile" Write GatewayRole Gateway;
    REMOVE_ROLE_FROM_INSTANCE_PROFILE = Iam "RemoveRoleFromInstanceProfile" Write GatewayRole Gateway;
    DELETE_INSTANCE_PROFILE = Iam "DeleteInstanceProfile" Write GatewayRole Gateway;
    DELETE_ROLE_POLICY = Iam "DeleteRolePolicy" Write GatewayRoleBounded Gateway;
    DELETE_ROLE = Iam "DeleteRole" Write GatewayRole Gateway;
    PUT_PARAMETER = Ssm "PutParameter" Write GatewayKey Gateway;
    GET_PRIVATE_KEY = Ssm "GetParameter" Read GatewayKeyPrivate Bootstrap;
    DESCRIBE_KEY = Kms "DescribeKey" Read GatewayKmsKey Gateway;
    GET_KEY_POLICY = Kms "GetKeyPolicy" Read GatewayKmsKey Gateway;
    CREATE_KEY = Kms "CreateKey" Write GatewayKmsCreate Gateway;
    CREATE_ALIAS = Kms "CreateAlias" Write GatewayKmsAlias Gateway;
    PUT_KEY_POLICY = Kms "PutKeyPolicy" Write GatewayKmsKey Bootstrap;
    DESCRIBE_LOG_GROUPS = Logs "DescribeLogGroups" Read Account Gateway;
    FILTER_LOG_EVENTS = Logs "FilterLogEvents" Read BounceLog Gateway;
    CREATE_LOG_GROUP = Logs "CreateLogGroup" Write BounceLog Gateway;
    PUT_RETENTION_POLICY = Logs "PutRetentionPolicy" Write BounceLog Gateway;
    DELETE_PARAMETERS = Ssm "DeleteParameters" Write GatewayKey Gateway;
    CREATE_SECURITY_GROUP = Ec2 "CreateSecurityGroup" Write SecurityGroupCreate Gateway;
    AUTHORIZE_SECURITY_GROUP_INGRESS = Ec2 "AuthorizeSecurityGroupIngress" Write Ec2Tagged Gateway;
    REVOKE_SECURITY_GROUP_INGRESS = Ec2 "RevokeSecurityGroupIngress" Write Ec2Tagged Gateway;
    DELETE_SECURITY_GROUP = Ec2 "DeleteSecurityGroup" Write Ec2Tagged Gateway;
    RUN_INSTANCES = Ec2 "RunInstances" Write Launch Gateway;
    TERMINATE_INSTANCES = Ec2 "TerminateInstances" Write Ec2Tagged Gateway;
    ALLOCATE_ADDRESS = Ec2 "AllocateAddress" Write AddressCreate Gateway;
    ASSOCIATE_ADDRESS = Ec2 "AssociateAddress" Write Ec2Tagged Gateway;
    RELEASE_ADDRESS = Ec2 "ReleaseAddress" Write Ec2Tagged Gateway;
    MODIFY_ADDRESS_ATTRIBUTE = Ec2 "ModifyAddressAttribute" Write Ec2Tagged Gateway;
    RESET_ADDRESS_ATTRIBUTE = Ec2 "ResetAddressAttribute" Write Ec2Tagged Gateway;
    DESCRIBE_NETWORK_INTERFACES = Ec2 "DescribeNetworkInterfaces" Read Ec2Read Gateway;
    CREATE_NETWORK_INTERFACE = Ec2 "CreateNetworkInterface" Write NetworkInterfaceCreate Gateway;
    DELETE_NETWORK_INTERFACE = Ec2 "DeleteNetworkInterface" Write Ec2Tagged Gateway;
    GET_HEALTH_PARAMETER = Ssm "GetParameter" Read GatewayHealth Gateway;
    GET_USER = Iam "GetUser" Read SmtpUser Gateway;
    GET_USER_POLICY = Iam "GetUserPolicy" Read SmtpUser Gateway;
    LIST_ACCESS_KEYS = Iam "ListAccessKeys" Read SmtpUser Gateway;
    CREATE_USER = Iam "CreateUser" Write SmtpUserCreate SesRelay;
    PUT_USER_POLICY = Iam "PutUserPolicy" Write SmtpUserBounded SesRelay;
    PUT_USER_PERMISSIONS_BOUNDARY = Iam "PutUserPermissionsBoundary" Write SmtpUserBounded SesRelay;
    CREATE_ACCESS_KEY = Iam "CreateAccessKey" Write SmtpUser SesRelay;
    DELETE_ACCESS_KEY = Iam "DeleteAccessKey" Write SmtpUser Gateway;
    DELETE_USER_POLICY = Iam "DeleteUserPolicy" Write SmtpUser Gateway;
    DELETE_USER = Iam "DeleteUser" Write SmtpUser Gateway;
    DELETE_HEALTH_PARAMETER = Ssm "DeleteParameter" Write GatewayHealth Gateway;
}
