// An ordinary single-page application with MSAL.js (@azure/msal-browser): it signs the person
// in with loginRedirect, then asks acquireTokenSilent for a token to another resource, which
// MSAL.js gets by redeeming its refresh token at the token endpoint, cross-origin. Its second
// button does the same with loginPopup (the sign-in page in a popup window, whose redirect
// brings the code back to this page) after forgetting the first sign-in, and shows the result
// in the second status line. The test
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
    const popupStatus = document.getElementById("popup-result");
    const popupButton = document.getElementById("signin-popup");

    function show(result, where) {
        const line = where || status;
        line.textContent = JSON.stringify(result);
        line.setAttribute("aria-busy", "false");
    }

    function failure(e) {
        return { error: String(e.errorCode || e) + ": " + String(e.errorMessage || e.message || "") };
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
        popupButton.disabled = false;
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
            show(failure(e));
        });
    });
    popupButton.addEventListener("click", function () {
        popupStatus.setAttribute("aria-busy", "true");
        // Forget the first sign-in (its account, tokens and refresh token), so that what follows
        // comes from the popup's. The popup opens within the click's user activation.
        let accountsBefore = -1;
        pca.clearCache().then(function () {
            accountsBefore = pca.getAllAccounts().length;
            return pca.loginPopup({ scopes: ["https://management.azure.com/.default"], prompt: "login" });
        }).then(async function (result) {
            const vault = await pca.acquireTokenSilent({
                scopes: ["https://vault.azure.net/.default"],
                account: result.account,
            });
            show({
                username: result.account.username,
                armToken: result.accessToken,
                vaultToken: vault.accessToken,
                vaultFromCache: vault.fromCache,
                accounts: [accountsBefore, pca.getAllAccounts().length],
            }, popupStatus);
        }).catch(function (e) {
            show(failure(e), popupStatus);
        });
    });
    main().catch(function (e) {
        show(failure(e));
    });
})();
