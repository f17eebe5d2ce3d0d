//! Each fake platform as one row of data (STYLE §1), written from `shared/platforms.md`
//! independently of `crates/platforms`: the fakes must not share code, and so bugs, with the
//! connectors they test. Paths are the real ones; the host is dropped because connectors
//! rebase every URL onto `<server>/sandbox/<platform>`. A path segment `{version}` stands for
//! a Graph API version such as `v24.0`.

/// How the real token endpoint authenticates the client (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// `Authorization: Basic`; a secret in the body is not accepted.
    Basic,
    /// `client_id` (or `client_key`) and `client_secret` in the form (or query, for Meta GETs).
    Body,
    /// Either of the above (Google).
    Either,
}

/// What the real authorization endpoint does with RFC 7636 parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PkceRule {
    /// A challenge must be sent (X).
    Required,
    /// Checked when sent (Google, TikTok desktop).
    Optional,
    /// Sending one is an error (LinkedIn standard apps).
    Rejected,
    /// Unknown parameters, silently ignored (Meta, Pinterest, Reddit, Snapchat).
    Ignored,
}

/// When the code exchange hands out a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshIssued {
    Always,
    /// Only when this scope was granted (X `offline.access`).
    WithScope(&'static str),
    /// Only when the authorization request carried this parameter value (Reddit
    /// `duration=permanent`, Google `access_type=offline`).
    WithParam(&'static str, &'static str),
    Never,
}

/// How an access token is kept alive after the code exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Renewal {
    /// The RFC 6749 §6 `refresh_token` grant at the token path.
    Grant {
        /// Every refresh returns a new refresh token and kills the old one (X, TikTok, Pinterest).
        rotates: bool,
        /// A non-rotating refresh answer repeats the refresh token (Reddit, LinkedIn) or
        /// leaves it out (Google).
        echoes: bool,
    },
    /// Meta family: a short-lived token is exchanged for a long-lived one with
    /// `GET exchange_path?grant_type=…&client_secret=…&{token_param}=…`, which may then be
    /// extended with `GET extend_path?grant_type=…&access_token=…`.
    LongLived {
        exchange_path: &'static str,
        exchange_grant: &'static str,
        token_param: &'static str,
        /// Facebook wants `client_id` beside the secret; Instagram Login and Threads do not.
        needs_client_id: bool,
        extend: Option<(&'static str, &'static str)>,
        long_lifetime: i64,
    },
}

/// The JSON a successful code exchange or refresh answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenShape {
    /// `{token_type, expires_in, access_token, scope, refresh_token?}`.
    Standard { token_type: &'static str },
    /// LinkedIn adds `refresh_token_expires_in`, which keeps counting down across refreshes.
    Linkedin,
    /// `{open_id, scope, access_token, expires_in, refresh_token, refresh_expires_in, token_type}`.
    Tiktok,
    /// Adds `response_type`, `refresh_token_expires_in` and `refresh_token_expires_at`.
    Pinterest,
    /// Flat `{access_token, user_id (a JSON number), permissions}` as production sees it.
    InstagramLogin,
    /// `{access_token, user_id}`.
    Threads,
    /// `{access_token, token_type, expires_in}`.
    Facebook,
}

/// The error body of the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenErrors {
    /// RFC 6749 §5.2 `{error, error_description}`.
    OAuth,
    /// X: a bad code or refresh token is `invalid_request`, not `invalid_grant`.
    X,
    /// `{error, error_description, log_id}`.
    Tiktok,
    /// `{code, message}`.
    Pinterest,
    /// `{error}` only; a bad client is `401 {"message":"Unauthorized","error":401}`.
    Reddit,
    /// api.instagram.com: `{error_type, code, error_message}`.
    InstagramApi,
    /// Graph API `{error:{message, type, code, error_subcode?, fbtrace_id}}`.
    Graph,
}

/// The error body of the platform's API (identity endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiErrors {
    X,
    Graph,
    Linkedin,
    Tiktok,
    Google,
    Pinterest,
    Reddit,
    Snapchat,
}

/// The identity JSON of the platform's "who am I" endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentityShape {
    X,
    Instagram,
    Facebook,
    LinkedinUserinfo,
    Tiktok,
    YoutubeChannels,
    GoogleUserinfo,
    Pinterest,
    Reddit,
    Threads,
    Snapchat,
}

/// How the fake user's platform id looks, derived from a hash of the username.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdStyle {
    /// Decimal digits after a fixed prefix (X, Meta, Google, Pinterest).
    Digits { prefix: &'static str, len: usize },
    /// Lower-case base 36 (Reddit).
    Base36 { len: usize },
    /// Letters and digits (LinkedIn `sub`).
    Alnum { len: usize },
    /// `UC` + 22 base64url characters (YouTube channel id).
    YoutubeChannel,
    /// A UUID-looking string (TikTok `open_id`, Snapchat ids).
    Uuid,
}

/// Selection of returned fields by a query parameter, as X (`user.fields`), Meta (`fields`)
/// and TikTok (`fields`) do: without it only `always` comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FieldFilter {
    pub param: &'static str,
    pub always: &'static [&'static str],
    /// JSON pointer of the object whose keys are filtered.
    pub at: &'static str,
}

/// A listing endpoint of the "secondary selection": what the user can pick after the login
/// (platforms.md, "Secondary selection").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listing {
    /// `/me/accounts`: the user's Pages, each with a Page token.
    FacebookPages,
    /// `/{id}`: one of the user's Pages or their linked Instagram accounts.
    FacebookNode,
    FacebookAdAccounts,
    FacebookAds,
    FacebookPermissions,
    FacebookBusinesses,
    LinkedinOrganizationAcls,
    LinkedinOrganization,
    /// `/v2/me`, the legacy profile that carries `vanityName`.
    LinkedinMe,
    PinterestBoards,
    GoogleAccounts,
    GoogleLocations,
    SnapchatOrganizations,
    SnapchatProfiles,
    SnapchatMyProfile,
}

/// What a fake user can pick after the login, and where it is listed.
#[derive(Debug)]
pub(crate) struct Destinations {
    /// What the consent page calls them.
    pub noun: &'static str,
    /// The consent form's default count.
    pub default_count: u8,
    /// Real paths; a `{name}` segment other than `{version}` captures one path segment.
    pub endpoints: &'static [(&'static str, Listing)],
    /// The identity endpoint is itself the listing (YouTube's `channels?mine=true`).
    pub in_identity: bool,
}

/// The consent form accepts 0 to this many destinations.
pub(crate) const MAX_DESTINATIONS: u8 = 5;

#[derive(Debug)]
pub(crate) struct Fake {
    pub slug: &'static str,
    pub name: &'static str,
    pub authorize_path: &'static str,
    pub token_path: &'static str,
    /// Meta's token endpoints take their parameters in a GET query as well as a POST form.
    pub token_via_get: bool,
    pub revoke_path: Option<&'static str>,
    pub client_id_param: &'static str,
    pub client_auth: ClientAuth,
    pub pkce: PkceRule,
    pub state_required: bool,
    pub scope_required: bool,
    /// Characters that separate scopes in the authorization request.
    pub scope_split: &'static [char],
    /// How granted scopes are joined in the token response.
    pub scope_join: &'static str,
    /// Scopes the real platform knows; an entry ending in `*` is a prefix.
    pub scopes: &'static [&'static str],
    /// Authorization parameters that must be present with one of these values.
    pub required_params: &'static [(&'static str, &'static [&'static str])],
    pub refresh_issued: RefreshIssued,
    pub renewal: Renewal,
    pub access_lifetime: i64,
    pub refresh_lifetime: Option<i64>,
    pub token_shape: TokenShape,
    pub token_errors: TokenErrors,
    /// Query parameters of the redirect when the user clicks Deny (besides `state`).
    pub denial: &'static [(&'static str, &'static str)],
    /// Meta appends `#_=_` (Facebook) or `#_` (Instagram, Threads) to its redirects.
    pub redirect_fragment: Option<&'static str>,
    pub identity_paths: &'static [&'static str],
    pub identity: IdentityShape,
    pub id_style: IdStyle,
    pub api_errors: ApiErrors,
    /// Meta also accepts `?access_token=` instead of a Bearer header.
    pub token_in_query: bool,
    pub field_filter: Option<FieldFilter>,
    pub destinations: Option<Destinations>,
}

const STANDARD_DENIAL: &[(&str, &str)] = &[
    ("error", "access_denied"),
    ("error_description", "The user denied the request"),
];

const GOOGLE_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/*",
    "openid",
    "email",
    "profile",
];

const META_FIELDS: &str = "fields";

pub(crate) static FAKES: &[Fake] = &[
    // platforms.md §1
    Fake {
        slug: "twitter",
        name: "X (Twitter)",
        authorize_path: "/i/oauth2/authorize",
        token_path: "/2/oauth2/token",
        token_via_get: false,
        revoke_path: Some("/2/oauth2/revoke"),
        client_id_param: "client_id",
        client_auth: ClientAuth::Basic,
        pkce: PkceRule::Required,
        state_required: true,
        scope_required: true,
        scope_split: &[' '],
        scope_join: " ",
        scopes: &[
            "tweet.read",
            "tweet.write",
            "tweet.moderate.write",
            "users.read",
            "users.email",
            "follows.read",
            "follows.write",
            "offline.access",
            "space.read",
            "mute.read",
            "mute.write",
            "like.read",
            "like.write",
            "list.read",
            "list.write",
            "block.read",
            "block.write",
            "bookmark.read",
            "bookmark.write",
            "media.write",
            "dm.read",
            "dm.write",
        ],
        required_params: &[],
        refresh_issued: RefreshIssued::WithScope("offline.access"),
        renewal: Renewal::Grant {
            rotates: true,
            echoes: true,
        },
        access_lifetime: 7200,
        refresh_lifetime: Some(182 * 86400),
        token_shape: TokenShape::Standard {
            token_type: "bearer",
        },
        token_errors: TokenErrors::X,
        denial: STANDARD_DENIAL,
        redirect_fragment: None,
        identity_paths: &["/2/users/me"],
        identity: IdentityShape::X,
        id_style: IdStyle::Digits {
            prefix: "1",
            len: 19,
        },
        api_errors: ApiErrors::X,
        token_in_query: false,
        field_filter: Some(FieldFilter {
            param: "user.fields",
            always: &["id", "name", "username"],
            at: "/data",
        }),
        destinations: None,
    },
    // platforms.md §2a (Instagram API with Instagram Login)
    Fake {
        slug: "instagram",
        name: "Instagram",
        authorize_path: "/oauth/authorize",
        token_path: "/oauth/access_token",
        token_via_get: false,
        revoke_path: None,
        client_id_param: "client_id",
        client_auth: ClientAuth::Body,
        pkce: PkceRule::Ignored,
        state_required: false,
        scope_required: true,
        scope_split: &[',', ' '],
        scope_join: ",",
        scopes: &[
            "instagram_business_basic",
            "instagram_business_content_publish",
            "instagram_business_manage_comments",
            "instagram_business_manage_messages",
            "instagram_business_manage_insights",
        ],
        required_params: &[],
        refresh_issued: RefreshIssued::Never,
        renewal: Renewal::LongLived {
            exchange_path: "/access_token",
            exchange_grant: "ig_exchange_token",
            token_param: "access_token",
            needs_client_id: false,
            extend: Some(("/refresh_access_token", "ig_refresh_token")),
            long_lifetime: 5_184_000,
        },
        access_lifetime: 3600,
        refresh_lifetime: None,
        token_shape: TokenShape::InstagramLogin,
        token_errors: TokenErrors::InstagramApi,
        denial: &[
            ("error", "access_denied"),
            ("error_reason", "user_denied"),
            ("error_description", "The user denied your request."),
        ],
        redirect_fragment: Some("_"),
        identity_paths: &["/{version}/me", "/me"],
        identity: IdentityShape::Instagram,
        id_style: IdStyle::Digits {
            prefix: "2",
            len: 17,
        },
        api_errors: ApiErrors::Graph,
        token_in_query: true,
        field_filter: Some(FieldFilter {
            param: META_FIELDS,
            always: &["id"],
            at: "",
        }),
        destinations: None,
    },
    // platforms.md §3
    Fake {
        slug: "facebook",
        name: "Facebook",
        authorize_path: "/{version}/dialog/oauth",
        token_path: "/{version}/oauth/access_token",
        token_via_get: true,
        revoke_path: None,
        client_id_param: "client_id",
        client_auth: ClientAuth::Body,
        pkce: PkceRule::Ignored,
        state_required: false,
        scope_required: false,
        scope_split: &[',', ' '],
        scope_join: ",",
        scopes: &[
            "public_profile",
            "email",
            "pages_show_list",
            "business_management",
            "pages_manage_posts",
            "pages_manage_engagement",
            "pages_read_engagement",
            "pages_manage_metadata",
            "pages_read_user_content",
            "read_insights",
            "ads_read",
            "ads_management",
            "instagram_basic",
            "instagram_content_publish",
            "instagram_manage_comments",
            "instagram_manage_insights",
        ],
        required_params: &[],
        refresh_issued: RefreshIssued::Never,
        renewal: Renewal::LongLived {
            exchange_path: "/{version}/oauth/access_token",
            exchange_grant: "fb_exchange_token",
            token_param: "fb_exchange_token",
            needs_client_id: true,
            extend: None,
            long_lifetime: 5_183_944,
        },
        access_lifetime: 5400,
        refresh_lifetime: None,
        token_shape: TokenShape::Facebook,
        token_errors: TokenErrors::Graph,
        denial: &[
            ("error", "access_denied"),
            ("error_code", "200"),
            ("error_description", "Permissions error"),
            ("error_reason", "user_denied"),
        ],
        redirect_fragment: Some("_=_"),
        identity_paths: &["/{version}/me", "/me"],
        identity: IdentityShape::Facebook,
        id_style: IdStyle::Digits {
            prefix: "100",
            len: 15,
        },
        api_errors: ApiErrors::Graph,
        token_in_query: true,
        field_filter: Some(FieldFilter {
            param: META_FIELDS,
            always: &["id", "name"],
            at: "",
        }),
        destinations: Some(Destinations {
            noun: "Facebook Pages (and ad accounts)",
            default_count: 2,
            endpoints: &[
                ("/{version}/me/accounts", Listing::FacebookPages),
                ("/{version}/me/adaccounts", Listing::FacebookAdAccounts),
                ("/{version}/me/permissions", Listing::FacebookPermissions),
                ("/{version}/me/businesses", Listing::FacebookBusinesses),
                ("/{version}/{id}/ads", Listing::FacebookAds),
                ("/{version}/{id}", Listing::FacebookNode),
            ],
            in_identity: false,
        }),
    },
    // platforms.md §4
    Fake {
        slug: "linkedin",
        name: "LinkedIn",
        authorize_path: "/oauth/v2/authorization",
        token_path: "/oauth/v2/accessToken",
        token_via_get: false,
        revoke_path: Some("/oauth/v2/revoke"),
        client_id_param: "client_id",
        client_auth: ClientAuth::Body,
        pkce: PkceRule::Rejected,
        state_required: false,
        scope_required: true,
        scope_split: &[' '],
        scope_join: ",",
        scopes: &[
            "openid",
            "profile",
            "email",
            "w_member_social",
            "r_basicprofile",
            "rw_organization_admin",
            "r_organization_admin",
            "w_organization_social",
            "r_organization_social",
        ],
        required_params: &[],
        refresh_issued: RefreshIssued::Always,
        renewal: Renewal::Grant {
            rotates: false,
            echoes: true,
        },
        access_lifetime: 5_184_000,
        refresh_lifetime: Some(31_536_000),
        token_shape: TokenShape::Linkedin,
        token_errors: TokenErrors::OAuth,
        // LinkedIn's documented denial codes are its own (user_cancelled_login /
        // user_cancelled_authorize), not RFC 6749's access_denied.
        denial: &[
            ("error", "user_cancelled_authorize"),
            ("error_description", "The user cancelled the authorization"),
        ],
        redirect_fragment: None,
        identity_paths: &["/v2/userinfo"],
        identity: IdentityShape::LinkedinUserinfo,
        id_style: IdStyle::Alnum { len: 10 },
        api_errors: ApiErrors::Linkedin,
        token_in_query: false,
        field_filter: None,
        destinations: Some(Destinations {
            noun: "organizations administered",
            default_count: 2,
            endpoints: &[
                ("/rest/organizationAcls", Listing::LinkedinOrganizationAcls),
                ("/rest/organizations/{id}", Listing::LinkedinOrganization),
                ("/v2/me", Listing::LinkedinMe),
            ],
            in_identity: false,
        }),
    },
    // platforms.md §5
    Fake {
        slug: "tiktok",
        name: "TikTok",
        authorize_path: "/v2/auth/authorize/",
        token_path: "/v2/oauth/token/",
        token_via_get: false,
        revoke_path: Some("/v2/oauth/revoke/"),
        client_id_param: "client_key",
        client_auth: ClientAuth::Body,
        pkce: PkceRule::Optional,
        state_required: true,
        scope_required: true,
        scope_split: &[','],
        scope_join: ",",
        scopes: &[
            "user.info.basic",
            "user.info.profile",
            "user.info.stats",
            "video.list",
            "video.publish",
            "video.upload",
        ],
        required_params: &[],
        refresh_issued: RefreshIssued::Always,
        renewal: Renewal::Grant {
            rotates: true,
            echoes: true,
        },
        access_lifetime: 86_400,
        refresh_lifetime: Some(31_536_000),
        token_shape: TokenShape::Tiktok,
        token_errors: TokenErrors::Tiktok,
        denial: STANDARD_DENIAL,
        redirect_fragment: None,
        identity_paths: &["/v2/user/info/"],
        identity: IdentityShape::Tiktok,
        id_style: IdStyle::Uuid,
        api_errors: ApiErrors::Tiktok,
        token_in_query: false,
        field_filter: Some(FieldFilter {
            param: "fields",
            always: &["open_id"],
            at: "/data/user",
        }),
        destinations: None,
    },
    // platforms.md §6
    Fake {
        slug: "youtube",
        name: "YouTube (Google)",
        authorize_path: "/o/oauth2/v2/auth",
        token_path: "/token",
        token_via_get: false,
        revoke_path: Some("/revoke"),
        client_id_param: "client_id",
        client_auth: ClientAuth::Either,
        pkce: PkceRule::Optional,
        state_required: false,
        scope_required: true,
        scope_split: &[' '],
        scope_join: " ",
        scopes: GOOGLE_SCOPES,
        required_params: &[],
        refresh_issued: RefreshIssued::WithParam("access_type", "offline"),
        renewal: Renewal::Grant {
            rotates: false,
            echoes: false,
        },
        access_lifetime: 3599,
        refresh_lifetime: None,
        token_shape: TokenShape::Standard {
            token_type: "Bearer",
        },
        token_errors: TokenErrors::OAuth,
        denial: &[("error", "access_denied")],
        redirect_fragment: None,
        identity_paths: &["/youtube/v3/channels"],
        identity: IdentityShape::YoutubeChannels,
        id_style: IdStyle::YoutubeChannel,
        api_errors: ApiErrors::Google,
        token_in_query: false,
        field_filter: None,
        destinations: Some(Destinations {
            noun: "YouTube channels",
            default_count: 1,
            endpoints: &[],
            in_identity: true,
        }),
    },
    // platforms.md §7
    Fake {
        slug: "googlebusiness",
        name: "Google Business Profile",
        authorize_path: "/o/oauth2/v2/auth",
        token_path: "/token",
        token_via_get: false,
        revoke_path: Some("/revoke"),
        client_id_param: "client_id",
        client_auth: ClientAuth::Either,
        pkce: PkceRule::Optional,
        state_required: false,
        scope_required: true,
        scope_split: &[' '],
        scope_join: " ",
        scopes: GOOGLE_SCOPES,
        required_params: &[],
        refresh_issued: RefreshIssued::WithParam("access_type", "offline"),
        renewal: Renewal::Grant {
            rotates: false,
            echoes: false,
        },
        access_lifetime: 3599,
        refresh_lifetime: None,
        token_shape: TokenShape::Standard {
            token_type: "Bearer",
        },
        token_errors: TokenErrors::OAuth,
        denial: &[("error", "access_denied")],
        redirect_fragment: None,
        identity_paths: &["/oauth2/v3/userinfo", "/v1/userinfo"],
        identity: IdentityShape::GoogleUserinfo,
        id_style: IdStyle::Digits {
            prefix: "1",
            len: 21,
        },
        api_errors: ApiErrors::Google,
        token_in_query: false,
        field_filter: None,
        destinations: Some(Destinations {
            noun: "business locations",
            default_count: 2,
            endpoints: &[
                ("/v1/accounts", Listing::GoogleAccounts),
                ("/v1/accounts/{id}/locations", Listing::GoogleLocations),
            ],
            in_identity: false,
        }),
    },
    // platforms.md §8
    Fake {
        slug: "pinterest",
        name: "Pinterest",
        authorize_path: "/oauth/",
        token_path: "/v5/oauth/token",
        token_via_get: false,
        revoke_path: None,
        client_id_param: "client_id",
        client_auth: ClientAuth::Basic,
        pkce: PkceRule::Ignored,
        state_required: false,
        scope_required: true,
        scope_split: &[','],
        scope_join: ",",
        scopes: &[
            "user_accounts:read",
            "boards:read",
            "boards:read_secret",
            "boards:write",
            "boards:write_secret",
            "pins:read",
            "pins:read_secret",
            "pins:write",
            "pins:write_secret",
            "ads:read",
            "ads:write",
            "catalogs:read",
            "catalogs:write",
        ],
        required_params: &[],
        refresh_issued: RefreshIssued::Always,
        renewal: Renewal::Grant {
            rotates: true,
            echoes: true,
        },
        access_lifetime: 2_592_000,
        refresh_lifetime: Some(5_184_000),
        token_shape: TokenShape::Pinterest,
        token_errors: TokenErrors::Pinterest,
        denial: STANDARD_DENIAL,
        redirect_fragment: None,
        identity_paths: &["/v5/user_account"],
        identity: IdentityShape::Pinterest,
        id_style: IdStyle::Digits {
            prefix: "5",
            len: 18,
        },
        api_errors: ApiErrors::Pinterest,
        token_in_query: false,
        field_filter: None,
        destinations: Some(Destinations {
            noun: "boards",
            default_count: 2,
            endpoints: &[("/v5/boards", Listing::PinterestBoards)],
            in_identity: false,
        }),
    },
    // platforms.md §9
    Fake {
        slug: "reddit",
        name: "Reddit",
        authorize_path: "/api/v1/authorize",
        token_path: "/api/v1/access_token",
        token_via_get: false,
        revoke_path: Some("/api/v1/revoke_token"),
        client_id_param: "client_id",
        client_auth: ClientAuth::Basic,
        pkce: PkceRule::Ignored,
        state_required: true,
        scope_required: true,
        scope_split: &[' ', ','],
        scope_join: " ",
        scopes: &[
            "identity",
            "edit",
            "flair",
            "history",
            "modconfig",
            "modflair",
            "modlog",
            "modposts",
            "modwiki",
            "mysubreddits",
            "privatemessages",
            "read",
            "report",
            "save",
            "submit",
            "subscribe",
            "vote",
            "wikiedit",
            "wikiread",
        ],
        required_params: &[("duration", &["temporary", "permanent"])],
        refresh_issued: RefreshIssued::WithParam("duration", "permanent"),
        renewal: Renewal::Grant {
            rotates: false,
            echoes: true,
        },
        access_lifetime: 3600,
        refresh_lifetime: None,
        token_shape: TokenShape::Standard {
            token_type: "bearer",
        },
        token_errors: TokenErrors::Reddit,
        denial: &[("error", "access_denied")],
        redirect_fragment: None,
        identity_paths: &["/api/v1/me"],
        identity: IdentityShape::Reddit,
        id_style: IdStyle::Base36 { len: 8 },
        api_errors: ApiErrors::Reddit,
        token_in_query: false,
        field_filter: None,
        destinations: None,
    },
    // platforms.md §10
    Fake {
        slug: "threads",
        name: "Threads",
        authorize_path: "/oauth/authorize",
        token_path: "/oauth/access_token",
        token_via_get: true,
        revoke_path: None,
        client_id_param: "client_id",
        client_auth: ClientAuth::Body,
        pkce: PkceRule::Ignored,
        state_required: false,
        scope_required: true,
        scope_split: &[',', ' '],
        scope_join: ",",
        scopes: &[
            "threads_basic",
            "threads_content_publish",
            "threads_manage_replies",
            "threads_read_replies",
            "threads_manage_insights",
            "threads_keyword_search",
            "threads_manage_mentions",
        ],
        required_params: &[],
        refresh_issued: RefreshIssued::Never,
        renewal: Renewal::LongLived {
            exchange_path: "/access_token",
            exchange_grant: "th_exchange_token",
            token_param: "access_token",
            needs_client_id: false,
            extend: Some(("/refresh_access_token", "th_refresh_token")),
            long_lifetime: 5_183_944,
        },
        access_lifetime: 3600,
        refresh_lifetime: None,
        token_shape: TokenShape::Threads,
        token_errors: TokenErrors::Graph,
        denial: &[
            ("error", "access_denied"),
            ("error_reason", "user_denied"),
            ("error_description", "The user denied your request."),
        ],
        redirect_fragment: Some("_"),
        identity_paths: &["/{version}/me", "/me"],
        identity: IdentityShape::Threads,
        id_style: IdStyle::Digits {
            prefix: "2",
            len: 17,
        },
        api_errors: ApiErrors::Graph,
        token_in_query: true,
        field_filter: Some(FieldFilter {
            param: META_FIELDS,
            always: &["id"],
            at: "",
        }),
        destinations: None,
    },
    // platforms.md §11
    Fake {
        slug: "snapchat",
        name: "Snapchat",
        authorize_path: "/login/oauth2/authorize",
        token_path: "/login/oauth2/access_token",
        token_via_get: false,
        revoke_path: None,
        client_id_param: "client_id",
        client_auth: ClientAuth::Body,
        pkce: PkceRule::Ignored,
        state_required: false,
        scope_required: true,
        scope_split: &[' '],
        scope_join: " ",
        scopes: &[
            "snapchat-marketing-api",
            "snapchat-profile-api",
            "snapchat-offline-conversions-api",
        ],
        required_params: &[],
        refresh_issued: RefreshIssued::Always,
        renewal: Renewal::Grant {
            rotates: false,
            echoes: true,
        },
        access_lifetime: 1800,
        refresh_lifetime: None,
        token_shape: TokenShape::Standard {
            token_type: "Bearer",
        },
        token_errors: TokenErrors::OAuth,
        denial: STANDARD_DENIAL,
        redirect_fragment: None,
        identity_paths: &["/v1/me"],
        identity: IdentityShape::Snapchat,
        id_style: IdStyle::Uuid,
        api_errors: ApiErrors::Snapchat,
        token_in_query: false,
        field_filter: None,
        destinations: Some(Destinations {
            noun: "public profiles",
            default_count: 2,
            endpoints: &[
                ("/v1/me/organizations", Listing::SnapchatOrganizations),
                (
                    "/v1/organizations/{id}/public_profiles",
                    Listing::SnapchatProfiles,
                ),
                ("/v1/public_profiles/my_profile", Listing::SnapchatMyProfile),
            ],
            in_identity: false,
        }),
    },
];

/// platforms.md §3 and §12: the Facebook Login that the WhatsApp fake plays for the Meta
/// OAuth variant of WhatsApp (Facebook Login with the WhatsApp permissions). Facebook's paths
/// and shapes; only the scopes and the destinations differ: the consent form's number is how
/// many phone numbers the fake user's WABA has. Not one of [`FAKES`]: it is served under
/// `/sandbox/whatsapp` by the WhatsApp fake, which hands it the paths it does not serve itself.
pub(crate) static WHATSAPP_LOGIN: Fake = Fake {
    slug: "whatsapp",
    name: "WhatsApp (Facebook Login)",
    authorize_path: "/{version}/dialog/oauth",
    token_path: "/{version}/oauth/access_token",
    token_via_get: true,
    revoke_path: None,
    client_id_param: "client_id",
    client_auth: ClientAuth::Body,
    pkce: PkceRule::Ignored,
    state_required: false,
    scope_required: false,
    scope_split: &[',', ' '],
    scope_join: ",",
    scopes: &[
        "public_profile",
        "email",
        "business_management",
        "whatsapp_business_management",
        "whatsapp_business_messaging",
    ],
    required_params: &[],
    refresh_issued: RefreshIssued::Never,
    renewal: Renewal::LongLived {
        exchange_path: "/{version}/oauth/access_token",
        exchange_grant: "fb_exchange_token",
        token_param: "fb_exchange_token",
        needs_client_id: true,
        extend: None,
        long_lifetime: 5_183_944,
    },
    access_lifetime: 5400,
    refresh_lifetime: None,
    token_shape: TokenShape::Facebook,
    token_errors: TokenErrors::Graph,
    denial: &[
        ("error", "access_denied"),
        ("error_code", "200"),
        ("error_description", "Permissions error"),
        ("error_reason", "user_denied"),
    ],
    redirect_fragment: Some("_=_"),
    identity_paths: &["/{version}/me", "/me"],
    identity: IdentityShape::Facebook,
    id_style: IdStyle::Digits {
        prefix: "100",
        len: 15,
    },
    api_errors: ApiErrors::Graph,
    token_in_query: true,
    field_filter: Some(FieldFilter {
        param: META_FIELDS,
        always: &["id", "name"],
        at: "",
    }),
    destinations: Some(Destinations {
        noun: "WhatsApp phone numbers",
        default_count: 2,
        // Served by the WhatsApp fake's own Graph endpoints (the WABA the login made).
        endpoints: &[],
        in_identity: false,
    }),
};

pub(crate) fn find(slug: &str) -> Option<&'static Fake> {
    FAKES
        .iter()
        .find(|f| f.slug == slug)
        .or_else(|| (slug == WHATSAPP_LOGIN.slug).then_some(&WHATSAPP_LOGIN))
}

/// Whether `path` is the row's `pattern`, where a `{version}` segment matches `v<digits>[.<digits>]`.
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    path_captures(pattern, path).is_some()
}

/// The segments `path` gives the pattern's `{name}` placeholders (other than `{version}`),
/// or `None` when it is not that pattern.
pub(crate) fn path_captures<'p>(pattern: &str, path: &'p str) -> Option<Vec<&'p str>> {
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    let mut captured = Vec::new();
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(captured),
            (Some("{version}"), Some(seg)) => {
                let ok = seg.strip_prefix('v').is_some_and(|v| {
                    !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.')
                });
                if !ok {
                    return None;
                }
            }
            (Some(a), Some(b)) if a.starts_with('{') && a.ends_with('}') && !b.is_empty() => {
                captured.push(b);
            }
            (Some(a), Some(b)) if a == b => {}
            _ => return None,
        }
    }
}

/// The listing endpoint at `path` and the segments it captured.
pub(crate) fn listing_at<'p>(fake: &Fake, path: &'p str) -> Option<(Listing, Vec<&'p str>)> {
    fake.destinations
        .as_ref()?
        .endpoints
        .iter()
        .find_map(|(pattern, listing)| path_captures(pattern, path).map(|c| (*listing, c)))
}

/// Whether the platform knows this scope.
pub(crate) fn scope_known(fake: &Fake, scope: &str) -> bool {
    fake.scopes
        .iter()
        .any(|known| match known.strip_suffix('*') {
            Some(prefix) => scope.starts_with(prefix) && scope.len() > prefix.len(),
            None => *known == scope,
        })
}
