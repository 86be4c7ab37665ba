// Package dashboard is the built-in, read-only analytics dashboard that
// `ejazz dev` serves at /analytics: a sign-in form (the platform's own
// accounts and passwords; the session is an access token in an HttpOnly
// cookie) and, for analysts, one server-rendered SVG chart per view —
// daily active users, media uploads, top posts, one post's engagement and
// one user's follower growth. Every figure comes through AnalyticsService
// (analyticsapi), with its role checks and range validation.
package dashboard

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ejazz/ejazz/analytics/analyticsapi"
	analyticsv1 "github.com/ejazz/ejazz/gen/ejazz/analytics/v1"
	"github.com/ejazz/ejazz/internal/auth"
)

// Path is where the dashboard is served.
const Path = "/analytics"

const cookieName = "ejazz_analytics"

// Handler serves the dashboard.
type Handler struct {
	API *analyticsapi.Service
	// SignIn checks credentials and returns an access token for the user.
	SignIn func(ctx context.Context, identifier, password, totp string) (token string, ttl time.Duration, err error)
	// Verify checks an access token.
	Verify func(ctx context.Context, token string) (auth.Caller, error)
	Log    *slog.Logger
	// Secure marks the cookie Secure (https public URL).
	Secure bool
}

// ServeHTTP serves GET (the page) and POST (sign-in, sign-out).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	switch r.Method {
	case http.MethodPost:
		h.post(w, r)
	case http.MethodGet, http.MethodHead:
		h.get(w, r)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (h *Handler) post(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("action") == "signout" {
		http.SetCookie(w, &http.Cookie{Name: cookieName, Path: Path, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, Path, http.StatusSeeOther)
		return
	}
	token, ttl, err := h.SignIn(r.Context(), r.PostForm.Get("identifier"), r.PostForm.Get("password"), r.PostForm.Get("totp"))
	if err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		h.render(w, page{Title: "Sign in", Message: "Sign-in failed: " + errMessage(err)})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: Path, MaxAge: int(ttl.Seconds()), HttpOnly: true,
		Secure: h.Secure, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, Path, http.StatusSeeOther)
}

func errMessage(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		h.render(w, page{Title: "Sign in"})
		return
	}
	caller, err := h.Verify(r.Context(), c.Value)
	if err != nil {
		h.render(w, page{Title: "Sign in", Message: "Your session has ended; sign in again."})
		return
	}
	if !analyticsapi.IsAnalyst(caller) {
		w.WriteHeader(http.StatusForbidden)
		h.render(w, page{Title: "Analysts only", Message: "This dashboard needs the analyst role (ejazz admin grant-role --role analyst).", SignedIn: true})
		return
	}
	days := 30
	if d, err := strconv.Atoi(r.URL.Query().Get("days")); err == nil && d >= 1 && d <= analyticsapi.MaxRangeDays {
		days = d
	}
	p, err := h.charts(auth.WithCaller(r.Context(), caller), caller, days, r.URL.Query().Get("post"), r.URL.Query().Get("user"))
	if err != nil {
		if h.Log != nil {
			h.Log.ErrorContext(r.Context(), "analytics dashboard", "err", err)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		h.render(w, page{Title: "Unavailable", Message: "The analytics store did not answer: " + errMessage(err), SignedIn: true})
		return
	}
	h.render(w, p)
}

// charts reads the five views for the last days days.
func (h *Handler) charts(ctx context.Context, caller auth.Caller, days int, postID, userID string) (page, error) {
	now := time.Now().UTC()
	from := timestamppb.New(now.AddDate(0, 0, -days+1))
	p := page{Title: "Ejazz analytics", SignedIn: true, Days: days}

	dau, err := h.API.GetDailyActiveUsers(ctx, connect.NewRequest(&analyticsv1.GetDailyActiveUsersRequest{From: from}))
	if err != nil {
		return p, err
	}
	var dauS series
	for _, pt := range dau.Msg.GetPoints() {
		dauS.add(pt.GetDay().AsTime(), float64(pt.GetUsers()))
	}
	p.Charts = append(p.Charts, chart{ID: "dau", Title: fmt.Sprintf("Daily active users (last %d days)", days), SVG: lineChart([]series{dauS.named("users", "#2563eb")})})

	up, err := h.API.GetMediaUploads(ctx, connect.NewRequest(&analyticsv1.GetMediaUploadsRequest{From: from}))
	if err != nil {
		return p, err
	}
	var uploads, mb series
	for _, pt := range up.Msg.GetPoints() {
		uploads.add(pt.GetDay().AsTime(), float64(pt.GetUploads()))
		mb.add(pt.GetDay().AsTime(), float64(pt.GetBytes())/1e6)
	}
	p.Charts = append(p.Charts, chart{ID: "uploads", Title: "Media uploads per day (bars) and megabytes (line)",
		SVG: barLineChart(uploads.named("uploads", "#059669"), mb.named("MB", "#d97706"))})

	top, err := h.API.GetTopPosts(ctx, connect.NewRequest(&analyticsv1.GetTopPostsRequest{Since: timestamppb.New(now.AddDate(0, 0, -7)), Limit: 10}))
	if err != nil {
		return p, err
	}
	var bars []bar
	for _, tp := range top.Msg.GetPosts() {
		bars = append(bars, bar{Label: tp.GetPostId(), Value: tp.GetScore(),
			Note: fmt.Sprintf("%d likes · %d comments · %d reposts", tp.GetLikes(), tp.GetComments(), tp.GetReposts())})
	}
	p.Charts = append(p.Charts, chart{ID: "top-posts", Title: "Top posts of the last 7 days (decayed engagement score)", SVG: hbarChart(bars)})

	if postID == "" && len(bars) > 0 {
		postID = bars[0].Label
	}
	if postID != "" {
		eng, err := h.API.GetPostEngagement(ctx, connect.NewRequest(&analyticsv1.GetPostEngagementRequest{PostId: postID}))
		switch {
		case connect.CodeOf(err) == connect.CodeNotFound:
			p.Charts = append(p.Charts, chart{ID: "post-engagement", Title: "Post " + postID, Empty: "No such post."})
		case err != nil:
			return p, err
		default:
			var l, c, rp series
			for _, pt := range eng.Msg.GetByDay() {
				l.add(pt.GetDay().AsTime(), float64(pt.GetLikes()))
				c.add(pt.GetDay().AsTime(), float64(pt.GetComments()))
				rp.add(pt.GetDay().AsTime(), float64(pt.GetReposts()))
			}
			p.Charts = append(p.Charts, chart{ID: "post-engagement",
				Title: fmt.Sprintf("Engagement of post %s per day (total %d likes, %d comments, %d reposts)", postID, eng.Msg.GetLikes(), eng.Msg.GetComments(), eng.Msg.GetReposts()),
				SVG:   lineChart([]series{l.named("likes", "#dc2626"), c.named("comments", "#7c3aed"), rp.named("reposts", "#0891b2")})})
		}
	} else {
		p.Charts = append(p.Charts, chart{ID: "post-engagement", Title: "Post engagement", Empty: "No engagement in the last 7 days; pick a post with ?post=<id>."})
	}

	if userID == "" {
		userID = caller.UserID
	}
	fg, err := h.API.GetFollowerGrowth(ctx, connect.NewRequest(&analyticsv1.GetFollowerGrowthRequest{UserId: userID, From: from}))
	switch {
	case connect.CodeOf(err) == connect.CodeNotFound:
		p.Charts = append(p.Charts, chart{ID: "follower-growth", Title: "Follower growth of " + userID, Empty: "No such user."})
	case err != nil:
		return p, err
	default:
		var f, g, lo series
		for _, pt := range fg.Msg.GetPoints() {
			f.add(pt.GetDay().AsTime(), float64(pt.GetFollowers()))
			g.add(pt.GetDay().AsTime(), float64(pt.GetGained()))
			lo.add(pt.GetDay().AsTime(), float64(pt.GetLost()))
		}
		p.Charts = append(p.Charts, chart{ID: "follower-growth", Title: "Follower growth of user " + userID,
			SVG: lineChart([]series{f.named("followers", "#2563eb"), g.named("gained", "#16a34a"), lo.named("lost", "#dc2626")})})
	}
	return p, nil
}

// page is what the template renders.
type page struct {
	Title, Message string
	SignedIn       bool
	Days           int
	Charts         []chart
}

type chart struct {
	ID, Title, Empty string
	SVG              template.HTML
}

var tmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · Ejazz</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#111;background:#fafafa}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:1.5rem}
figure{background:#fff;border:1px solid #ddd;border-radius:8px;margin:0;padding:1rem}
figcaption{font-weight:600;margin-bottom:.5rem}
form.inline{display:inline}
label{display:block;margin:.5rem 0}
.msg{color:#b91c1c}
</style></head><body>
<h1>{{.Title}}</h1>
{{if .Message}}<p class="msg">{{.Message}}</p>{{end}}
{{if .SignedIn}}<form class="inline" method="post" action="/analytics"><input type="hidden" name="action" value="signout"><button>Sign out</button></form>
{{if .Charts}}<p>Range: <a href="?days=7">7 days</a> · <a href="?days=30">30 days</a> · <a href="?days=90">90 days</a> · <a href="?days=366">366 days</a> (showing {{.Days}})</p>{{end}}
<div class="grid">{{range .Charts}}<figure class="chart" id="{{.ID}}"><figcaption>{{.Title}}</figcaption>{{if .Empty}}<p>{{.Empty}}</p>{{else}}{{.SVG}}{{end}}</figure>
{{end}}</div>
{{else}}<form method="post" action="/analytics">
<label>Email or handle <input name="identifier" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<label>Authenticator code (if enabled) <input name="totp" inputmode="numeric" autocomplete="one-time-code"></label>
<button>Sign in</button></form>{{end}}
</body></html>`))

func (h *Handler) render(w http.ResponseWriter, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := tmpl.Execute(w, p); err != nil && h.Log != nil {
		h.Log.Error("analytics dashboard template", "err", err)
	}
}

// series is one line of a chart.
type series struct {
	Name, Color string
	X           []time.Time
	Y           []float64
}

func (s *series) add(x time.Time, y float64) { s.X, s.Y = append(s.X, x), append(s.Y, y) }

func (s series) named(name, color string) series { s.Name, s.Color = name, color; return s }

// Chart geometry.
const (
	width, height            = 560, 240
	left, right, top, bottom = 56, 16, 16, 40
)

// scale maps the y range to pixels, with a "nice" maximum.
type yscale struct{ min, max float64 }

func newYScale(ss ...series) yscale {
	lo, hi := 0.0, 0.0
	for _, s := range ss {
		for _, y := range s.Y {
			lo, hi = math.Min(lo, y), math.Max(hi, y)
		}
	}
	if hi == lo {
		hi = lo + 1
	}
	return yscale{lo, niceCeil(hi)}
}

func niceCeil(v float64) float64 {
	if v <= 0 {
		return v
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func (y yscale) px(v float64) float64 {
	return float64(height-bottom) - (v-y.min)/(y.max-y.min)*float64(height-top-bottom)
}

func xpx(i, n int) float64 {
	if n <= 1 {
		return float64(left)
	}
	return float64(left) + float64(i)/float64(n-1)*float64(width-left-right)
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// frame draws axes, y gridlines with labels and a few x labels.
func frame(b *strings.Builder, y yscale, xs []time.Time, ylabel string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" font-size="11" font-family="system-ui,sans-serif">`, width, height, width, height)
	for i := 0; i <= 4; i++ {
		v := y.min + (y.max-y.min)*float64(i)/4
		py := y.px(v)
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#e5e7eb"/>`, left, width-right, py, py)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">%s</text>`, left-6, py+4, esc(short(v)))
	}
	fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>`, left, width-right, height-bottom, height-bottom)
	n := len(xs)
	step := max(1, n/6)
	for i := 0; i < n; i += step {
		fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`, xpx(i, n), height-bottom+16, xs[i].Format("Jan 2"))
	}
	if ylabel != "" {
		fmt.Fprintf(b, `<text x="12" y="%d" fill="#555" transform="rotate(-90 12 %d)" text-anchor="middle">%s</text>`, height/2, height/2, esc(ylabel))
	}
}

func short(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return strconv.FormatFloat(v/1e9, 'f', 1, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 0, 64) + "k"
	case a == math.Trunc(a):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func legend(b *strings.Builder, ss []series) {
	x := left + 8
	for _, s := range ss {
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d" fill="#333">%s</text>`, x, top-2, s.Color, x+14, top+7, esc(s.Name))
		x += 20 + 7*len(s.Name) + 10
	}
}

// lineChart draws one polyline per series over the same days.
func lineChart(ss []series) template.HTML {
	var b strings.Builder
	y := newYScale(ss...)
	var xs []time.Time
	if len(ss) > 0 {
		xs = ss[0].X
	}
	frame(&b, y, xs, "")
	for _, s := range ss {
		var pts []string
		for i, v := range s.Y {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xpx(i, len(s.Y)), y.px(v)))
		}
		fmt.Fprintf(&b, `<polyline class="series" data-name="%s" fill="none" stroke="%s" stroke-width="2" points="%s"><title>%s</title></polyline>`,
			esc(s.Name), s.Color, strings.Join(pts, " "), esc(s.Name))
		for i, v := range s.Y {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"><title>%s %s: %s</title></circle>`, xpx(i, len(s.Y)), y.px(v), s.Color, esc(s.Name), s.X[i].Format("2006-01-02"), short(v))
		}
	}
	legend(&b, ss)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barLineChart draws bars (left axis) with a line on its own scale.
func barLineChart(bars, line series) template.HTML {
	var b strings.Builder
	y := newYScale(bars)
	frame(&b, y, bars.X, "")
	n := len(bars.Y)
	w := math.Max(1, float64(width-left-right)/float64(max(n, 1))*0.7)
	for i, v := range bars.Y {
		px := xpx(i, n) - w/2
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s %s</title></rect>`,
			px, y.px(v), w, float64(height-bottom)-y.px(v), bars.Color, bars.X[i].Format("2006-01-02"), short(v), esc(bars.Name))
	}
	ly := newYScale(line)
	var pts []string
	for i, v := range line.Y {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", xpx(i, len(line.Y)), ly.px(v)))
	}
	fmt.Fprintf(&b, `<polyline class="series" data-name="%s" fill="none" stroke="%s" stroke-width="2" points="%s"/>`, esc(line.Name), line.Color, strings.Join(pts, " "))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="%s">max %s %s</text>`, width-right, top+8, line.Color, short(ly.max), esc(line.Name))
	legend(&b, []series{bars, line})
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

type bar struct {
	Label, Note string
	Value       float64
}

// hbarChart draws horizontal bars, best first.
func hbarChart(bars []bar) template.HTML {
	var b strings.Builder
	rowH := 22
	h := top + rowH*max(len(bars), 1) + 8
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" font-size="11" font-family="system-ui,sans-serif">`, width, h, width, h)
	if len(bars) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#555">no engagement in this period</text></svg>`, left, top+12)
		return template.HTML(b.String())
	}
	hi := 0.0
	for _, x := range bars {
		hi = math.Max(hi, x.Value)
	}
	if hi <= 0 {
		hi = 1
	}
	labelW := 150
	for i, x := range bars {
		yy := top + i*rowH
		w := math.Max(1, x.Value/hi*float64(width-labelW-right-60))
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#333">%s</text>`, labelW-6, yy+14, esc(truncate(x.Label, 22)))
		fmt.Fprintf(&b, `<rect class="bar" x="%d" y="%d" width="%.1f" height="%d" fill="#7c3aed"><title>%s: score %.2f, %s</title></rect>`, labelW, yy+3, w, rowH-6, esc(x.Label), x.Value, esc(x.Note))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#333">%.1f</text>`, float64(labelW)+w+4, yy+14, x.Value)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
