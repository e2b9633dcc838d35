# rackup -I bindings/ruby/lib bindings/ruby/examples/config.ru
require "toto_session/rack"

manager = TotoSession::Manager.new # memory cache and account store

use TotoSession::Rack::Middleware, manager: manager, hmac: :required
run(TotoSession::Rack::Methods.new do |m| # account.create/login/logout/update built in
  m.register("counter.next", authenticated: true) do |toto, params|
    toto.session[:count] = (toto.session[:count] || 0) + Integer(params.fetch("by", 1))
  end
end)
