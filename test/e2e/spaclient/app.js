// An ordinary single-page application with MSAL.js (@azure/msal-browser): it signs the person
// in with loginRedirect, then asks acquireTokenSilent for a token to another resource, which
// MSAL.js gets by redeeming its refresh token at the token endpoint, cross-origin. The test
// serves it with config.js (window.spaConfig: clientId, authority, authorityHost, redirectUri)
// and reads the result from the status line.
(function () {
    "use strict";
    const cfg = window.spaConfig;
    const pca = new msal.PublicClientApplication({
        auth: {
            clientId: cfg.clientId,
            authority: cfg.authority,
            // A host other than Entra's: MSAL.js trusts it as given, with no instance discovery.
            knownAuthorities: [cfg.authorityHost],
            redirectUri: cfg.redirectUri,
        },
        cache: { cacheLocation: "sessionStorage" },
    });
    const status = document.getElementById("result");
    const button = document.getElementById("signin");

    function show(result) {
        status.textContent = JSON.stringify(result);
        status.setAttribute("aria-busy", "false");
    }

    // The expiry MSAL.js keeps for its refresh token (from refresh_token_expires_in), in seconds.
    function refreshTokenExpiresOn() {
        for (let i = 0; i < sessionStorage.length; i++) {
            try {
                const v = JSON.parse(sessionStorage.getItem(sessionStorage.key(i)));
                if (v && v.credentialType === "RefreshToken") {
                    return v.expiresOn ? Number(v.expiresOn) : 0;
                }
            } catch (e) {
                // not one of MSAL.js's JSON entries
            }
        }
        return -1;
    }

    async function main() {
        await pca.initialize();
        const login = await pca.handleRedirectPromise();
        if (!login) {
            button.disabled = false;
            status.setAttribute("aria-busy", "false");
            return;
        }
        const afterLogin = refreshTokenExpiresOn();
        const vault = await pca.acquireTokenSilent({
            scopes: ["https://vault.azure.net/.default"],
            account: login.account,
        });
        show({
            username: login.account.username,
            armToken: login.accessToken,
            vaultToken: vault.accessToken,
            vaultFromCache: vault.fromCache,
            refreshTokenExpiresOn: [afterLogin, refreshTokenExpiresOn()],
        });
    }

    button.addEventListener("click", function () {
        pca.loginRedirect({ scopes: ["https://management.azure.com/.default"] }).catch(function (e) {
            show({ error: String(e.errorCode || e) + ": " + String(e.errorMessage || e.message || "") });
        });
    });
    main().catch(function (e) {
        show({ error: String(e.errorCode || e) + ": " + String(e.errorMessage || e.message || "") });
    });
})();
